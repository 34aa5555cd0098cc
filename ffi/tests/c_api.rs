//! The C error-path program (`tests/c/api_errors.c`) under the sanitizers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod c_build;

#[test]
fn c_api_errors_every_error_path_answers_its_result_code_under_asan_and_ubsan() {
    let exe = c_build::compile("api_errors", &["tests/c/api_errors.c"], &[]);
    let out = c_build::run(&exe, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "api_errors exited {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.ends_with(" passed, 0 failed"), "{stdout}\n{stderr}");
    let passed: u32 = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 150, "too few checks ran: {summary}");
}
