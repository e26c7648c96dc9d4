//! Where ONNX Runtime's shared library comes from, and the one process-wide
//! ONNX Runtime environment.
//!
//! Order of search (the first that works wins):
//! 1. `ORT_DYLIB_PATH`, if set (a wrong path is an error, not a fallback);
//! 2. a copy Luigi provisioned before, in the cache directory
//!    (`LUIGI_CACHE_DIR`, else `$XDG_CACHE_HOME/luigi`, else `~/.cache/luigi`);
//! 3. the library inside an installed `onnxruntime` Python package of the
//!    pinned version (`python3 -c "import onnxruntime"`);
//! 4. provisioning: `python3 -m pip download onnxruntime==<pinned>` into a
//!    temporary folder, the `.so` taken out of the wheel and moved into the
//!    cache atomically. Luigi says once on stderr what it did.
//!
//! Set `LUIGI_NO_PROVISION=1` to forbid step 4 (e.g. on an air-gapped CI).

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// The ONNX Runtime version Luigi provisions and is tested against.
pub const ORT_VERSION: &str = "1.32.0";

fn lib_file_name() -> String {
    if cfg!(target_os = "macos") {
        format!("libonnxruntime.{ORT_VERSION}.dylib")
    } else if cfg!(target_os = "windows") {
        "onnxruntime.dll".to_string()
    } else {
        format!("libonnxruntime.so.{ORT_VERSION}")
    }
}

/// The cache folder where Luigi keeps what it provisions.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LUIGI_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("luigi");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".cache").join("luigi");
    }
    std::env::temp_dir().join("luigi-cache")
}

fn provisioned_path() -> PathBuf {
    cache_dir()
        .join(format!("onnxruntime-{ORT_VERSION}"))
        .join(lib_file_name())
}

fn python() -> String {
    std::env::var("LUIGI_PYTHON")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

fn fix_command() -> String {
    format!(
        "run `python3 -m pip install onnxruntime=={ORT_VERSION}` (Luigi then finds it), \
         or set ORT_DYLIB_PATH to a libonnxruntime {ORT_VERSION} shared library"
    )
}

/// Finds (or provisions) ONNX Runtime's shared library and returns its path.
pub fn locate_library() -> Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(Error::Runtime {
            tried: format!("ORT_DYLIB_PATH={} : no such file", p.display()),
            fix: format!(
                "point ORT_DYLIB_PATH at an existing libonnxruntime {ORT_VERSION} file, or unset it to let Luigi find or provision one"
            ),
        });
    }
    tried.push("ORT_DYLIB_PATH: not set".to_string());

    let cached = provisioned_path();
    if cached.is_file() {
        return Ok(cached);
    }
    tried.push(format!("cache: {} : not there", cached.display()));

    match from_installed_python_package() {
        Ok(p) => return Ok(p),
        Err(why) => tried.push(format!("installed python package: {why}")),
    }

    if std::env::var_os("LUIGI_NO_PROVISION").is_some_and(|v| !v.is_empty() && v != "0") {
        tried.push("provisioning from PyPI: disabled by LUIGI_NO_PROVISION".to_string());
    } else {
        match provision() {
            Ok(p) => return Ok(p),
            Err(why) => tried.push(format!("provisioning from PyPI: {why}")),
        }
    }
    Err(Error::Runtime {
        tried: tried
            .iter()
            .map(|t| format!("  tried {t}"))
            .collect::<Vec<_>>()
            .join("\n"),
        fix: fix_command(),
    })
}

fn from_installed_python_package() -> std::result::Result<PathBuf, String> {
    let out = Command::new(python())
        .args([
            "-c",
            "import os, onnxruntime as o; print(o.__version__); print(os.path.join(os.path.dirname(o.__file__), 'capi'))",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("could not run {}: {e}", python()))?;
    if !out.status.success() {
        return Err("python3 cannot import onnxruntime".to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next().unwrap_or("").trim().to_string();
    let capi = PathBuf::from(lines.next().unwrap_or("").trim());
    if version != ORT_VERSION {
        return Err(format!(
            "installed onnxruntime is {version}, Luigi needs {ORT_VERSION}"
        ));
    }
    let lib = capi.join(lib_file_name());
    if lib.is_file() {
        Ok(lib)
    } else {
        Err(format!("{} not found", lib.display()))
    }
}

const EXTRACT_SCRIPT: &str = r#"
import sys, zipfile, glob, os
wheel_dir, dest, name = sys.argv[1], sys.argv[2], sys.argv[3]
wheels = glob.glob(os.path.join(wheel_dir, "onnxruntime-*.whl"))
if not wheels:
    sys.exit("no onnxruntime wheel was downloaded")
with zipfile.ZipFile(wheels[0]) as z:
    member = [m for m in z.namelist() if m.endswith("/capi/" + name)]
    if not member:
        sys.exit("wheel has no capi/" + name)
    with z.open(member[0]) as src, open(dest, "wb") as out:
        while True:
            block = src.read(1 << 20)
            if not block:
                break
            out.write(block)
"#;

fn provision() -> std::result::Result<PathBuf, String> {
    let target = provisioned_path();
    let dir = target
        .parent()
        .ok_or_else(|| "cache path has no parent".to_string())?
        .to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let work = dir.join(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let result = (|| {
        let status = Command::new(python())
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--timeout",
                "30",
                "--retries",
                "1",
                "-q",
                "-d",
            ])
            .arg(&work)
            .arg(format!("onnxruntime=={ORT_VERSION}"))
            .stdin(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("could not run {} -m pip: {e}", python()))?;
        if !status.success() {
            return Err(format!(
                "`{} -m pip download onnxruntime=={ORT_VERSION}` failed ({status})",
                python()
            ));
        }
        let staged = work.join(lib_file_name());
        let out = Command::new(python())
            .arg("-c")
            .arg(EXTRACT_SCRIPT)
            .arg(&work)
            .arg(&staged)
            .arg(lib_file_name())
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("could not run {}: {e}", python()))?;
        if !out.status.success() {
            return Err(format!(
                "could not take the library out of the wheel: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        // Atomic: parallel processes may race; the rename makes whichever wins complete.
        std::fs::rename(&staged, &target)
            .map_err(|e| format!("cannot move library into {}: {e}", target.display()))?;
        Ok(target.clone())
    })();
    let _ = std::fs::remove_dir_all(&work);
    if result.is_ok() {
        eprintln!(
            "luigi: provisioned ONNX Runtime {ORT_VERSION} from the PyPI wheel into {}",
            target.display()
        );
    }
    result
}

/// The shared ONNX Runtime environment, created once per process.
#[derive(Clone)]
pub(crate) struct Runtime {
    pub(crate) env: Arc<ort::environment::Environment>,
}

static RUNTIME: OnceLock<std::result::Result<Runtime, (String, String)>> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Returns the process-wide ONNX Runtime environment, loading the library on
/// first use. Safe to call from parallel tests.
pub(crate) fn runtime() -> Result<Runtime> {
    if let Some(r) = RUNTIME.get() {
        return clone_result(r);
    }
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let r = RUNTIME.get_or_init(init);
    clone_result(r)
}

fn clone_result(r: &std::result::Result<Runtime, (String, String)>) -> Result<Runtime> {
    match r {
        Ok(rt) => Ok(rt.clone()),
        Err((tried, fix)) => Err(Error::Runtime {
            tried: tried.clone(),
            fix: fix.clone(),
        }),
    }
}

fn init() -> std::result::Result<Runtime, (String, String)> {
    let path = match locate_library() {
        Ok(p) => p,
        Err(Error::Runtime { tried, fix }) => return Err((tried, fix)),
        Err(other) => return Err((other.to_string(), fix_command())),
    };
    let builder = ort::init_from(&path).map_err(|e| {
        (
            format!("  loading {} failed: {e}", path.display()),
            fix_command(),
        )
    })?;
    let env = builder
        .with_name("luigi")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            (
                format!(
                    "  creating the environment from {} failed: {e}",
                    path.display()
                ),
                fix_command(),
            )
        })?;
    Ok(Runtime { env: Arc::new(env) })
}

/// Checks that ONNX Runtime can be loaded; returns the library's path.
pub fn check() -> Result<PathBuf> {
    runtime()?;
    locate_library()
}
