//! Stage 1 check: `password_env` may name any environment variable, so a
//! change to desired state (a pull request CI plans and applies) could name
//! the pipeline's own credentials and have their value written to the
//! tenant as a user's password. Variables holding tenantctl's or the CI
//! system's credentials are refused by name.

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::path;
use crate::source::SourceFile;
use crate::state::DesiredState;

/// Credentials tenantctl reads, and the tokens CI systems provide.
const CREDENTIALS: &[&str] = &[
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_FEDERATED_TOKEN",
    "TENANTCTL_ACCESS_TOKEN",
    "TENANTCTL_SANDBOX_CLIENT_SECRET",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "SYSTEM_ACCESSTOKEN",
    "CI_JOB_TOKEN",
];

/// Prefixes of variables that configure tenantctl, the Azure SDKs it uses
/// (credentials, and the state backend's storage key and connection
/// string, which guard the ledger and trust root), managed identity, and
/// the CI systems and clouds it runs in (hostile run 15, finding 3: a
/// denylist of single names missed `AZURE_STORAGE_KEY` and
/// `IDENTITY_HEADER`). A setting's secret never comes from any of them.
const CREDENTIAL_PREFIXES: &[&str] = &[
    "TENANTCTL_", "AZURE_", "ARM_", "MSI_", "IDENTITY_", "IMDS_", "ACTIONS_", "GITHUB_", "GH_", "SYSTEM_", "BUILD_", "AGENT_", "CI_", "GITLAB_", "AWS_", "GOOGLE_", "GCP_", "VAULT_", "SSH_",
];

/// Whether `name` holds a credential of the run itself.
pub fn is_credential_variable(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    CREDENTIALS.contains(&upper.as_str()) || CREDENTIAL_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Refuse `password_env` naming a credential variable.
pub fn check(state: &DesiredState, sources: &[SourceFile], diags: &mut Diagnostics) {
    for (key, d) in &state.user {
        let Some(var) = &d.value.password_env else {
            continue;
        };
        if !is_credential_variable(var) {
            continue;
        }
        let loc: Location = sources
            .iter()
            .find(|s| s.holds(&d.origin))
            .map(|s| s.locate(&path!["user", key, "password_env"]))
            .unwrap_or_else(|| crate::diagnostic::Location::file(&d.origin.file));
        diags.push(
            Diagnostic::error("credential-env", format!("user.{key}: password_env names `{var}`, which holds a credential of the run, not a password"))
                .at(Some(loc))
                .with_help("name a variable that holds only this user's password; tenantctl never writes its own or the CI system's credentials to the tenant"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_refused_by_name_and_passwords_are_not() {
        let text = "[user.a]\nuser_principal_name = \"a@contoso.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\npassword_env = \"azure_client_secret\"\n\n[user.b]\nuser_principal_name = \"b@contoso.com\"\ndisplay_name = \"B\"\nmail_nickname = \"b\"\npassword_env = \"B_PASSWORD\"\n";
        let Err(crate::LoadError::Invalid(d)) = crate::load_str(&[("u.toml", text)]) else {
            panic!("a credential variable must be refused")
        };
        let errors: Vec<_> = d.errors().collect();
        assert_eq!(errors.len(), 1, "{d}");
        assert_eq!(errors[0].code, "credential-env");
        let l = errors[0].location.as_ref().unwrap();
        assert_eq!((l.line, l.column), (5, 16), "{d}");
        assert!(
            is_credential_variable("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
                && !is_credential_variable("SVC_PASSWORD")
        );
        // What tenantctl itself reads (the state backend's key guards the
        // ledger and trust root) and managed identity's header.
        for v in ["AZURE_STORAGE_KEY", "azure_storage_connection_string", "IDENTITY_HEADER", "MSI_SECRET", "TENANTCTL_STATE_URL", "AWS_SECRET_ACCESS_KEY", "BUILD_REQUESTEDFOR"] {
            assert!(is_credential_variable(v), "{v}");
        }
        assert!(!is_credential_variable("WIFI_KEY") && !is_credential_variable("BREAKGLASS_1_PASSWORD"));
    }
}
