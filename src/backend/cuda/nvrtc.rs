//! NVRTC, NVIDIA's run-time CUDA compiler, loaded with `dlopen` on first use.
//!
//! The library is looked up in `$TESSERA_NVRTC_LIB` (a folder such as the
//! `.nvrtc/lib` that `scripts/provision-nvrtc.sh` fills, or the library file
//! itself) and otherwise on the system library path. Failing to find it is an
//! error value, never a panic, so callers can explain what is missing.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Environment variable naming the folder (or file) of libnvrtc.
pub const NVRTC_LIB_VAR: &str = "TESSERA_NVRTC_LIB";

/// Library names tried on the library path when `TESSERA_NVRTC_LIB` is unset.
const SYSTEM_NAMES: [&str; 4] = ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"];

#[derive(Debug, Clone, thiserror::Error)]
pub enum NvrtcError {
    #[error("libnvrtc could not be loaded ({tried}); install NVRTC (scripts/provision-nvrtc.sh, or the CUDA toolkit) and set {NVRTC_LIB_VAR} to its folder")]
    NotFound { tried: String },
    #[error("{library} lacks the NVRTC function {symbol}: {reason}")]
    Symbol { library: String, symbol: &'static str, reason: String },
    #[error("NVRTC {call} failed: {message}")]
    Api { call: &'static str, message: String },
    #[error("NVRTC could not compile {name}:\n{log}")]
    Compile { name: String, log: String },
}

type Program = *mut c_void;
type NvrtcResult = c_int;

struct Functions {
    version: unsafe extern "C" fn(*mut c_int, *mut c_int) -> NvrtcResult,
    error_string: unsafe extern "C" fn(NvrtcResult) -> *const c_char,
    create_program: unsafe extern "C" fn(
        *mut Program,
        *const c_char,
        *const c_char,
        c_int,
        *const *const c_char,
        *const *const c_char,
    ) -> NvrtcResult,
    compile_program: unsafe extern "C" fn(Program, c_int, *const *const c_char) -> NvrtcResult,
    destroy_program: unsafe extern "C" fn(*mut Program) -> NvrtcResult,
    log_size: unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult,
    log: unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult,
    cubin_size: unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult,
    cubin: unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult,
    ptx_size: unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult,
    ptx: unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult,
    num_supported_archs: unsafe extern "C" fn(*mut c_int) -> NvrtcResult,
    supported_archs: unsafe extern "C" fn(*mut c_int) -> NvrtcResult,
}

/// A loaded libnvrtc.
pub struct Nvrtc {
    path: String,
    f: Functions,
    // Keeps the functions above valid; never unloaded.
    _lib: libloading::Library,
}

/// What NVRTC produced: a CUBIN for a real architecture (`sm_XY`) or PTX for a
/// virtual one (`compute_XY`), and the compiler's log (warnings, `ptxas info`).
#[derive(Clone, Debug)]
pub struct Compiled {
    pub image: Vec<u8>,
    pub cubin: bool,
    pub log: String,
}

/// The process-wide NVRTC, loaded on first use.
pub fn nvrtc() -> Result<&'static Nvrtc, NvrtcError> {
    static NVRTC: OnceLock<Result<Nvrtc, NvrtcError>> = OnceLock::new();
    NVRTC.get_or_init(Nvrtc::load).as_ref().map_err(Clone::clone)
}

/// A `dlopen` failure with the loader's own explanation (libloading's message
/// alone is only "dlopen failed").
pub fn dl_error(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => cause.to_string(),
        None => e.to_string(),
    }
}

fn candidates() -> Vec<PathBuf> {
    match std::env::var_os(NVRTC_LIB_VAR) {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_file() {
                return vec![dir];
            }
            let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.starts_with("libnvrtc.so") && !name.contains("alt")
                })
                .collect();
            // Prefer the plain name, then the shortest versioned one.
            found.sort_by_key(|p| p.as_os_str().len());
            if found.is_empty() {
                found.push(dir.join("libnvrtc.so"));
            }
            found
        }
        _ => SYSTEM_NAMES.iter().map(PathBuf::from).collect(),
    }
}

impl Nvrtc {
    fn load() -> Result<Nvrtc, NvrtcError> {
        let mut tried = Vec::new();
        for path in candidates() {
            // SAFETY: libnvrtc's initialisers have no preconditions.
            match unsafe { libloading::Library::new(&path) } {
                Ok(lib) => return Self::bind(lib, &path),
                Err(e) => tried.push(dl_error(&e)),
            }
        }
        Err(NvrtcError::NotFound { tried: tried.join("; ") })
    }

    fn bind(lib: libloading::Library, path: &Path) -> Result<Nvrtc, NvrtcError> {
        let library = path.display().to_string();
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the signature is NVRTC's documented C prototype for this symbol.
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(|e: libloading::Error| {
                    NvrtcError::Symbol { library: library.clone(), symbol: $name, reason: dl_error(&e) }
                })?
            };
        }
        let f = Functions {
            version: sym!("nvrtcVersion"),
            error_string: sym!("nvrtcGetErrorString"),
            create_program: sym!("nvrtcCreateProgram"),
            compile_program: sym!("nvrtcCompileProgram"),
            destroy_program: sym!("nvrtcDestroyProgram"),
            log_size: sym!("nvrtcGetProgramLogSize"),
            log: sym!("nvrtcGetProgramLog"),
            cubin_size: sym!("nvrtcGetCUBINSize"),
            cubin: sym!("nvrtcGetCUBIN"),
            ptx_size: sym!("nvrtcGetPTXSize"),
            ptx: sym!("nvrtcGetPTX"),
            num_supported_archs: sym!("nvrtcGetNumSupportedArchs"),
            supported_archs: sym!("nvrtcGetSupportedArchs"),
        };
        Ok(Nvrtc { path: library, f, _lib: lib })
    }

    /// The file the library was loaded from.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn check(&self, call: &'static str, result: NvrtcResult) -> Result<(), NvrtcError> {
        if result == 0 {
            return Ok(());
        }
        // SAFETY: nvrtcGetErrorString returns a static string for every code.
        let message = unsafe { CStr::from_ptr((self.f.error_string)(result)) }.to_string_lossy().into_owned();
        Err(NvrtcError::Api { call, message })
    }

    /// NVRTC's (major, minor) version.
    pub fn version(&self) -> Result<(i32, i32), NvrtcError> {
        let (mut major, mut minor) = (0, 0);
        // SAFETY: two valid out-pointers.
        self.check("nvrtcVersion", unsafe { (self.f.version)(&mut major, &mut minor) })?;
        Ok((major, minor))
    }

    /// The real architectures (e.g. 90 for sm_90) this NVRTC can compile for.
    pub fn supported_archs(&self) -> Result<Vec<i32>, NvrtcError> {
        let mut n = 0;
        // SAFETY: valid out-pointer, then a buffer of the size NVRTC reported.
        self.check("nvrtcGetNumSupportedArchs", unsafe { (self.f.num_supported_archs)(&mut n) })?;
        let mut archs = vec![0; n.max(0) as usize];
        self.check("nvrtcGetSupportedArchs", unsafe { (self.f.supported_archs)(archs.as_mut_ptr()) })?;
        Ok(archs)
    }

    /// Compiles one translation unit (all includes already resolved) with `options`,
    /// which must name a real architecture (`--gpu-architecture=sm_XY`) when `cubin`
    /// is wanted and a virtual one (`compute_XY`) for PTX. Compilation errors come
    /// back with NVRTC's log.
    pub fn compile(&self, source: &str, name: &str, options: &[String], cubin: bool) -> Result<Compiled, NvrtcError> {
        let api = |call: &'static str, message: &str| NvrtcError::Api { call, message: message.to_string() };
        let c_source = CString::new(source).map_err(|_| api("nvrtcCreateProgram", "the source contains a NUL byte"))?;
        let c_name = CString::new(name).map_err(|_| api("nvrtcCreateProgram", "the name contains a NUL byte"))?;
        let c_options: Vec<CString> = options
            .iter()
            .map(|o| CString::new(o.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|_| api("nvrtcCompileProgram", "an option contains a NUL byte"))?;
        let option_ptrs: Vec<*const c_char> = c_options.iter().map(|o| o.as_ptr()).collect();

        let mut program: Program = std::ptr::null_mut();
        // SAFETY: valid C strings that outlive the call; no headers.
        self.check("nvrtcCreateProgram", unsafe {
            (self.f.create_program)(
                &mut program,
                c_source.as_ptr(),
                c_name.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            )
        })?;
        let guard = ProgramGuard { nvrtc: self, program };
        // SAFETY: a live program and option pointers that outlive the call.
        let compiled = unsafe { (self.f.compile_program)(program, option_ptrs.len() as c_int, option_ptrs.as_ptr()) };
        let log = guard.log()?;
        if compiled != 0 {
            return Err(NvrtcError::Compile { name: name.to_string(), log });
        }
        let image = if cubin {
            guard.read("nvrtcGetCUBIN", self.f.cubin_size, self.f.cubin)?
        } else {
            let mut ptx = guard.read("nvrtcGetPTX", self.f.ptx_size, self.f.ptx)?;
            // The driver wants the NUL terminator NVRTC includes; keep exactly one.
            if ptx.last() != Some(&0) {
                ptx.push(0);
            }
            ptx
        };
        Ok(Compiled { image, cubin, log })
    }
}

/// Destroys an NVRTC program when dropped.
struct ProgramGuard<'a> {
    nvrtc: &'a Nvrtc,
    program: Program,
}

impl ProgramGuard<'_> {
    fn log(&self) -> Result<String, NvrtcError> {
        let bytes = self.read("nvrtcGetProgramLog", self.nvrtc.f.log_size, self.nvrtc.f.log)?;
        let text = String::from_utf8_lossy(&bytes);
        Ok(text.trim_end_matches('\0').to_string())
    }

    fn read(
        &self,
        call: &'static str,
        size: unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult,
        read: unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult,
    ) -> Result<Vec<u8>, NvrtcError> {
        let mut n = 0usize;
        // SAFETY: a live program, then a buffer of the size NVRTC reported.
        self.nvrtc.check(call, unsafe { size(self.program, &mut n) })?;
        let mut buf = vec![0u8; n];
        self.nvrtc.check(call, unsafe { read(self.program, buf.as_mut_ptr().cast()) })?;
        Ok(buf)
    }
}

impl Drop for ProgramGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the program was created by nvrtcCreateProgram and is destroyed once.
        unsafe { (self.nvrtc.f.destroy_program)(&mut self.program) };
    }
}

/// Registers and local memory of one kernel, from ptxas's `-v` report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelResources {
    pub name: String,
    pub registers: u32,
    pub stack_frame_bytes: u32,
    pub spill_store_bytes: u32,
    pub spill_load_bytes: u32,
}

/// Reads ptxas's `-v` report (`--ptxas-options=-v`) out of an NVRTC log.
pub fn parse_ptxas_report(log: &str) -> Vec<KernelResources> {
    let mut kernels: Vec<KernelResources> = Vec::new();
    let number_before = |line: &str, unit: &str| -> Option<u32> {
        let end = line.find(unit)?;
        line[..end].split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty())?.parse().ok()
    };
    for line in log.lines() {
        if let Some(rest) = line.split("Function properties for ").nth(1) {
            kernels.push(KernelResources { name: rest.trim().to_string(), ..Default::default() });
        } else if let Some(k) = kernels.last_mut() {
            if line.contains("bytes stack frame") {
                k.stack_frame_bytes = number_before(line, " bytes stack frame").unwrap_or(0);
                k.spill_store_bytes = number_before(line, " bytes spill stores").unwrap_or(0);
                k.spill_load_bytes = number_before(line, " bytes spill loads").unwrap_or(0);
            } else if line.contains("Used ") && line.contains(" registers") {
                k.registers = number_before(line, " registers").unwrap_or(0);
            }
        }
    }
    kernels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ptxas_reports() {
        let log = "ptxas info    : 0 bytes gmem\n\
                   ptxas info    : Compiling entry function 'ts_shade' for 'sm_90'\n\
                   ptxas info    : Function properties for ts_shade\n    \
                   520 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n\
                   ptxas info    : Used 96 registers, used 0 barriers, 776 bytes cmem[0]\n\
                   ptxas info    : Function properties for ts_generate\n    \
                   0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
                   ptxas info    : Used 30 registers, 776 bytes cmem[0]\n";
        let k = parse_ptxas_report(log);
        assert_eq!(k.len(), 2);
        assert_eq!(
            k[0],
            KernelResources {
                name: "ts_shade".into(),
                registers: 96,
                stack_frame_bytes: 520,
                spill_store_bytes: 8,
                spill_load_bytes: 12
            }
        );
        assert_eq!((k[1].name.as_str(), k[1].registers, k[1].spill_load_bytes), ("ts_generate", 30, 0));
    }
}
