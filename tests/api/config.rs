//! Configuration precedence: defaults, then the file, then `GED_*` variables, then flags.

use std::process::Command;

fn ged_config(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ged"));
    command.args(args).arg("config");
    for variable in [
        "GED_CONFIG",
        "GED_DATA_DIR",
        "GED_LISTEN",
        "GED_MAX_UPLOAD_BYTES",
        "GED_LOG_FORMAT",
    ] {
        command.env_remove(variable);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("ged runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn defaults_file_environment_and_flags_apply_in_that_order() {
    let (ok, defaults) = ged_config(&[], &[]);
    assert!(ok, "{defaults}");
    assert!(defaults.contains("data_dir = \"ged-data\""), "{defaults}");
    assert!(
        defaults.contains("listen = \"127.0.0.1:8080\""),
        "{defaults}"
    );
    assert!(
        defaults.contains("max_upload_bytes = 268435456"),
        "{defaults}"
    );

    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("ged.toml");
    std::fs::write(
        &file,
        "data_dir = \"from-file\"\nlisten = \"127.0.0.1:9001\"\nmax_upload_bytes = 1000\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let (_, from_file) = ged_config(&["--config", file], &[]);
    assert!(
        from_file.contains("data_dir = \"from-file\"") && from_file.contains("127.0.0.1:9001"),
        "{from_file}"
    );

    let environment = [
        ("GED_DATA_DIR", "from-env"),
        ("GED_LISTEN", "127.0.0.1:9002"),
    ];
    let (_, from_env) = ged_config(&["--config", file], &environment);
    assert!(
        from_env.contains("data_dir = \"from-env\"") && from_env.contains("127.0.0.1:9002"),
        "{from_env}"
    );
    assert!(
        from_env.contains("max_upload_bytes = 1000"),
        "the file still applies where nothing overrides it"
    );

    let (_, from_flags) = ged_config(
        &[
            "--config",
            file,
            "--data-dir",
            "from-flag",
            "--listen",
            "127.0.0.1:9003",
        ],
        &environment,
    );
    assert!(
        from_flags.contains("data_dir = \"from-flag\"") && from_flags.contains("127.0.0.1:9003"),
        "{from_flags}"
    );

    let (_, via_variable) = ged_config(&[], &[("GED_CONFIG", file)]);
    assert!(via_variable.contains("from-file"), "{via_variable}");
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_their_name() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("ged.toml");
    std::fs::write(&file, "listen_adress = \"127.0.0.1:9001\"\n").unwrap();
    let (ok, output) = ged_config(&["--config", file.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(output.contains("listen_adress"), "{output}");

    let (ok, output) = ged_config(&[], &[("GED_LISTEN", "not an address")]);
    assert!(!ok);
    assert!(output.contains("listen"), "{output}");
}
