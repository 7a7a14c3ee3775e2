//! The farm over HTTPS: a test CA made here, a coordinator serving its
//! certificate, workers and the CLI trusting only that CA.

mod farm_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use farm_support::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tessera::farm::protocol::JobState;

/// A CA, and a certificate it signed for 127.0.0.1 and localhost, as PEM files in `dir`.
struct TestCa {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_ca(dir: &Path, name: &str) -> TestCa {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let files = TestCa {
        ca: dir.join(format!("{name}-ca.pem")),
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&files.ca, ca_cert.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

/// `tessera status` against the farm, trusting `ca`: (success, stderr).
fn status_with(farm: &Farm, ca: &Path) -> (bool, String) {
    let mut cmd = farm.client(&farm.admin);
    cmd.env("TESSERA_CA_CERT", ca).arg("status");
    let out = run(cmd, Duration::from_secs(30));
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn tls_farm(certs: &Path) -> (Farm, TestCa) {
    let ca = make_ca(certs, "first");
    let (cert, key) = (ca.cert.to_str().unwrap(), ca.key.to_str().unwrap());
    let mut farm = Farm::start(&["--tls-cert", cert, "--tls-key", key, "--lease", "10s", "--heartbeat", "500ms"]);
    farm.scheme = "https";
    farm.ca_cert = Some(ca.ca.clone());
    (farm, ca)
}

#[test]
fn a_job_renders_over_https_and_only_the_right_ca_is_trusted() {
    let certs = tempfile::tempdir().unwrap();
    let (mut farm, ca) = tls_farm(certs.path());
    farm.add_worker(&[]);
    farm.add_worker(&[]);
    farm.wait_workers(2);
    let job = farm.submit(&farm.admin, "1");
    let done = farm.wait_status(job, Duration::from_secs(120), "the job to finish", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{}", farm.logs());
    assert!(farm.download(job).join("frame_0001.exr").is_file());

    assert!(status_with(&farm, &ca.ca).0);
    let other = make_ca(certs.path(), "other");
    let (ok, stderr) = status_with(&farm, &other.ca);
    assert!(!ok && stderr.contains("certificate"), "a wrong CA must be refused: {stderr}");

    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::blocking::Client::new().get(format!("http://{}/health", farm.addr)).send();
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[test]
fn the_certificate_is_reloaded_on_sighup_without_a_restart() {
    let certs = tempfile::tempdir().unwrap();
    let (farm, first) = tls_farm(certs.path());
    assert!(status_with(&farm, &first.ca).0);
    let second = make_ca(certs.path(), "second");
    std::fs::copy(&second.cert, &first.cert).unwrap();
    std::fs::copy(&second.key, &first.key).unwrap();
    let pid = farm.coordinator.as_ref().unwrap().child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    wait_until(
        Duration::from_secs(20),
        "the new certificate",
        || farm.logs(),
        || status_with(&farm, &second.ca).0.then_some(()),
    );
    assert!(!status_with(&farm, &first.ca).0, "the old CA no longer matches");
    assert!(farm.logs().contains("Reloaded the TLS certificate"), "{}", farm.logs());
}

#[test]
fn plain_http_on_a_network_address_needs_insecure_http() {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = tessera();
    cmd.args(["coordinator", "--listen", "0.0.0.0:0", "--data"]).arg(data.path());
    let out = run(cmd, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--insecure-http") && stderr.contains("--tls-cert"), "{stderr}");

    let log = data.path().join("coordinator.log");
    let child = tessera()
        .args(["coordinator", "--listen", "0.0.0.0:0", "--insecure-http", "--data"])
        .arg(data.path())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _running = Proc { child };
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until(Duration::from_secs(30), "the coordinator to start", read_log, || {
        std::fs::read_to_string(data.path().join("address")).ok().filter(|a| a.starts_with("0.0.0.0:"))
    });
    wait_until(Duration::from_secs(10), "the warning", read_log, || read_log().contains("in clear").then_some(()));
}
