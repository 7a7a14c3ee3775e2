# Sourced by the scripts that run Mitsuba 3 (compare-mitsuba.sh, bench-peers.sh):
# installs Debian's libllvm19 (Dr.Jit's LLVM backend) if missing, points
# DRJIT_LIBLLVM_PATH at it, and creates the .mitsuba/ virtual environment with
# Mitsuba 3.9.1 from PyPI. Run from the repository root.
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
llvm=/usr/lib/x86_64-linux-gnu/libLLVM-19.so
if [ ! -e "$llvm" ]; then
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq libllvm19 >/dev/null
fi
export DRJIT_LIBLLVM_PATH="$llvm"
if [ ! -x .mitsuba/bin/python ]; then
  python3 -m venv .mitsuba
  .mitsuba/bin/pip install --quiet "mitsuba==3.9.1" "numpy<3"
fi
