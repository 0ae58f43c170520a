//! `custom_extension_stages` of an access package's assignment policy
//! (`customExtensionStageSettings`, v1.0: a collection of
//! `customExtensionStageSetting { stage, customExtension }`): at which
//! stage of a request, or before an assignment expires, Entra calls one of
//! the custom workflow extensions of the package's catalog
//! (`access_catalog.KEY.custom_workflow_extensions`, named here by key).
//! Validation: a stage of `accessPackageCustomExtensionStage`, an
//! extension of the package's own catalog (Graph refuses another
//! catalog's), of the type that runs at that stage (a `request` extension
//! at the request's four stages, an `assignment` extension at the two
//! before expiry, as the two extension types' pages pair them), each stage
//! once.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::address::Kind;
use crate::kinds::access_catalog_extensions::{ASSIGNMENT, REQUEST};
use crate::path;
use crate::validate::Ctx;

/// One stage of a policy and the extension called there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomExtensionStage {
    /// `assignmentRequestCreated`, `assignmentRequestApproved`,
    /// `assignmentRequestGranted`, `assignmentRequestRemoved` (a `request`
    /// extension), `assignmentFourteenDaysBeforeExpiration` or
    /// `assignmentOneDayBeforeExpiration` (an `assignment` extension).
    pub stage: String,
    /// The key of a `custom_workflow_extensions` entry of the package's catalog.
    pub extension: String,
}

/// `accessPackageCustomExtensionStage` (v1.0 CSDL) but its sentinel, with
/// the extension type that runs at each.
pub const STAGES: &[(&str, &str)] = &[
    ("assignmentRequestCreated", REQUEST),
    ("assignmentRequestApproved", REQUEST),
    ("assignmentRequestGranted", REQUEST),
    ("assignmentRequestRemoved", REQUEST),
    ("assignmentFourteenDaysBeforeExpiration", ASSIGNMENT),
    ("assignmentOneDayBeforeExpiration", ASSIGNMENT),
];

/// The extension type that runs at `stage`, if it is one.
pub fn stage_type(stage: &str) -> Option<&'static str> {
    STAGES.iter().find(|(s, _)| *s == stage).map(|(_, t)| *t)
}

/// Every policy's stages checked, each error at the stage it is about.
pub(crate) fn validate(cx: &mut Ctx) {
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        let catalog = cx.state.resolve(&d.value.catalog, &[Kind::AccessCatalog]).ok().map(|a| a.key.to_string());
        for (pk, pol) in &d.value.policies {
            if !pol.custom_extension_stages.is_empty() {
                found.push((key.to_string(), pk.to_string(), catalog.clone(), pol.custom_extension_stages.clone(), d.origin.clone()));
            }
        }
    }
    for (key, pk, catalog, stages, o) in found {
        let name = format!("access_package.{key}.policies.{pk}");
        let mut seen = BTreeMap::new();
        for (i, s) in stages.iter().enumerate() {
            let at = |f: &str| path!["access_package", key.as_str(), "policies", pk.as_str(), "custom_extension_stages", i, f];
            let want = stage_type(&s.stage);
            match want {
                None => {
                    let names: Vec<&str> = STAGES.iter().map(|(n, _)| *n).collect();
                    let e = cx.error("bad-value", &o, &at("stage"), format!("{name}: custom extension stage `{}` is not one of Graph's ({})", s.stage, names.join(", ")));
                    e.help = crate::suggest::closest(&s.stage, names.iter().copied()).map(|x| format!("did you mean `{x}`?"));
                }
                Some(_) => {
                    if let Some(first) = seen.insert(s.stage.clone(), i) {
                        cx.error("duplicate", &o, &at("stage"), format!("{name}: stage `{}` is given twice (custom_extension_stages {} and {}); Graph calls one extension per stage", s.stage, first + 1, i + 1));
                    }
                }
            }
            let Some(catalog) = &catalog else { continue };
            let ext = cx.state.access_catalog.get(catalog.as_str()).and_then(|c| c.value.custom_workflow_extensions.as_ref()).and_then(|x| x.get(&s.extension)).cloned();
            let Some(ext) = ext else {
                let elsewhere: Vec<String> = cx
                    .state
                    .access_catalog
                    .iter()
                    .filter(|(k, c)| k.as_str() != catalog.as_str() && c.value.custom_workflow_extensions.as_ref().is_some_and(|x| x.contains_key(&s.extension)))
                    .map(|(k, _)| format!("access_catalog.{k}"))
                    .collect();
                let msg = if elsewhere.is_empty() {
                    format!("{name}: custom extension `{}` is not one of access_catalog.{catalog}'s custom_workflow_extensions", s.extension)
                } else {
                    format!("{name}: custom extension `{}` is an extension of {}, not of the package's catalog access_catalog.{catalog}; Graph calls only the package's own catalog's extensions", s.extension, elsewhere.join(", "))
                };
                cx.error("unknown-reference", &o, &at("extension"), msg);
                continue;
            };
            if let Some(want) = want.filter(|w| *w != ext.kind) {
                cx.error(
                    "bad-value",
                    &o,
                    &at("extension"),
                    format!("{name}: stage `{}` runs a `{want}` extension, but `{}` is of type `{}` (request extensions run at the request's stages, assignment extensions before an assignment expires)", s.stage, s.extension, ext.kind),
                );
            }
        }
    }
}
