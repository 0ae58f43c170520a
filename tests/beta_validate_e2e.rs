//! `tenantctl validate` checks beta-only settings by type and enum value,
//! as v1.0 ones, from the types graph-metadata generates from the beta
//! TypeScript declarations, and locates each error at its value.

#[test]
fn validate_refuses_a_wrong_typed_beta_setting_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tenant.toml"),
        "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policies.toml"),
        "[device_configuration.android]\n\
         odata_type = \"androidDeviceOwnerGeneralDeviceConfiguration\"\n\
         display_name = \"Android\"\n\
         [device_configuration.android.settings]\n\
         appsAutoUpdatePolicy = \"sometimes\"\n\
         [device_configuration.general]\n\
         odata_type = \"windows10GeneralConfiguration\"\n\
         display_name = \"General\"\n\
         [device_configuration.general.settings]\n\
         edgeBlockPrinting = \"yes\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .args(["validate", dir.path().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .expect("tenantctl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("`appsAutoUpdatePolicy` = \"sometimes\" is not a value of androidDeviceOwnerAppAutoUpdatePolicyType")
            && text.contains("policies.toml:5:24"),
        "{text}"
    );
    assert!(
        text.contains("`edgeBlockPrinting` must be true or false")
            && text.contains("policies.toml:10:21"),
        "{text}"
    );
}
