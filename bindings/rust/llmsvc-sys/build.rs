//! Finds libllmsvc with pkg-config (`llmsvc.pc`) and links it.
//!
//! Set `PKG_CONFIG_PATH` to the `lib/pkgconfig` directory of an llmsvc installation.
//! `LLMSVC_NO_PKG_CONFIG=1` skips pkg-config; then `LLMSVC_LIB_DIR` (optional) names the
//! directory holding `libllmsvc.so`.

fn main() {
    println!("cargo:rerun-if-env-changed=LLMSVC_NO_PKG_CONFIG");
    println!("cargo:rerun-if-env-changed=LLMSVC_LIB_DIR");
    if std::env::var_os("LLMSVC_NO_PKG_CONFIG").is_some() {
        if let Some(dir) = std::env::var_os("LLMSVC_LIB_DIR") {
            println!("cargo:rustc-link-search=native={}", dir.to_string_lossy());
        }
        println!("cargo:rustc-link-lib=dylib=llmsvc");
        return;
    }
    match pkg_config::Config::new()
        .atleast_version("0.5.0")
        .probe("llmsvc")
    {
        Ok(lib) => {
            for dir in &lib.include_paths {
                println!("cargo:include={}", dir.display());
            }
        }
        Err(e) => {
            eprintln!(
                "llmsvc-sys: libllmsvc was not found with pkg-config ({e}).\n\
                 Install llmsvc and set PKG_CONFIG_PATH to its lib/pkgconfig directory, \
                 or set LLMSVC_NO_PKG_CONFIG=1 and LLMSVC_LIB_DIR."
            );
            std::process::exit(1);
        }
    }
}
