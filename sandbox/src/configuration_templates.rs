//! Settings Catalog policy templates (`/beta/deviceManagement/configurationPolicyTemplates`):
//! the templates security baselines and endpoint security policies are
//! made from, with their setting templates (`settingTemplates`, definitions
//! through `$expand=settingDefinitions`), and the checks Intune makes of a
//! template-based policy on POST and PUT: the template exists, platforms
//! and technologies are the template's, every setting is one of the
//! template's and carries its `settingInstanceTemplateReference` (and its
//! value its `settingValueTemplateReference`), and an update does not
//! change the template. A small slice of Intune's templates: the Windows
//! security baseline (an active version and the one it superseded) and one
//! template per endpoint security family, a few settings each, with
//! defaults; real templates hold hundreds.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::error::GraphError;
use crate::graph::{Ctx, GReq, GResp, Version};
use crate::odata::Query;
use crate::resources::{INTUNE_MAX, INTUNE_PAGE};
use crate::settings_catalog::{choice, integer, string};

const NS: &str = "#microsoft.graph.deviceManagementConfiguration";

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

/// One setting of a template: its definition and its default (an option
/// id, an integer or a string; None: no default).
struct Setting {
    definition: Value,
    default: Option<Value>,
}

/// A template as served, with its settings.
pub struct Template {
    pub entity: Value,
    settings: Vec<(String, String, Option<String>, Setting)>,
}

impl Template {
    fn id(&self) -> &str {
        self.entity["id"].as_str().unwrap_or_default()
    }

    /// The template's setting for a definition id: (instance template id, value template id).
    fn setting(&self, definition_id: &str) -> Option<(&str, Option<&str>)> {
        self.settings.iter().find(|(_, _, _, s)| s.definition["id"].as_str().is_some_and(|d| d.eq_ignore_ascii_case(definition_id))).map(|(i, _, v, _)| (i.as_str(), v.as_deref()))
    }

    /// `deviceManagementConfigurationSettingTemplate`s, definitions included when expanded.
    fn setting_templates(&self, with_definitions: bool) -> Vec<Map<String, Value>> {
        self.settings
            .iter()
            .map(|(instance_id, id, value_id, s)| {
                let def = &s.definition;
                let def_id = def["id"].as_str().unwrap_or_default();
                let ty = def["@odata.type"].as_str().unwrap_or_default().trim_start_matches(NS);
                let mut inst = Map::new();
                inst.insert("settingDefinitionId".into(), json!(def_id));
                inst.insert("settingInstanceTemplateId".into(), json!(instance_id));
                inst.insert("isRequired".into(), json!(false));
                let integer = def.pointer("/valueDefinition/@odata.type").and_then(Value::as_str).is_some_and(|t| t.ends_with("IntegerSettingValueDefinition"));
                match ty {
                    "ChoiceSettingDefinition" => {
                        inst.insert("@odata.type".into(), json!(format!("{NS}ChoiceSettingInstanceTemplate")));
                        let default = s.default.as_ref().map(|d| json!({"@odata.type": format!("{NS}ChoiceSettingValueConstantDefaultTemplate"), "settingDefinitionOptionId": d, "children": []}));
                        inst.insert("choiceSettingValueTemplate".into(), json!({"settingValueTemplateId": value_id, "defaultValue": default}));
                    }
                    "SimpleSettingDefinition" => {
                        inst.insert("@odata.type".into(), json!(format!("{NS}SimpleSettingInstanceTemplate")));
                        let (vt, dt) = if integer { ("IntegerSettingValueTemplate", "IntegerSettingValueConstantDefaultTemplate") } else { ("StringSettingValueTemplate", "StringSettingValueConstantDefaultTemplate") };
                        let default = s.default.as_ref().map(|d| json!({"@odata.type": format!("{NS}{dt}"), "constantValue": d}));
                        inst.insert("simpleSettingValueTemplate".into(), json!({"@odata.type": format!("{NS}{vt}"), "settingValueTemplateId": value_id, "defaultValue": default}));
                    }
                    _ => {
                        inst.insert("@odata.type".into(), json!(format!("{NS}SimpleSettingCollectionInstanceTemplate")));
                    }
                }
                let mut out = Map::new();
                out.insert("id".into(), json!(id));
                out.insert("settingInstanceTemplate".into(), Value::Object(inst));
                if with_definitions {
                    out.insert("settingDefinitions".into(), json!([def]));
                }
                out
            })
            .collect()
    }
}

fn template(id: &str, name: &str, version: &str, state: &str, family: &str, technologies: &str, settings: Vec<(Value, Option<Value>)>) -> Template {
    let base = id.split('_').next().unwrap_or(id);
    let entity = json!({
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicyTemplate",
        "id": id,
        "baseId": base,
        "version": id.rsplit('_').next().and_then(|v| v.parse::<i64>().ok()).unwrap_or(1),
        "displayName": name,
        "description": format!("{name} ({version})"),
        "displayVersion": version,
        "lifecycleState": state,
        "platforms": "windows10",
        "technologies": technologies,
        "templateFamily": family,
        "allowUnmanagedSettings": false,
        "settingTemplateCount": settings.len(),
    });
    // Stable ids derived from the template and the setting's position.
    let settings = settings
        .into_iter()
        .enumerate()
        .map(|(i, (definition, default))| {
            let stem = &base[..base.len().min(8)];
            let value_id = matches!(definition["@odata.type"].as_str().unwrap_or_default().trim_start_matches(NS), "ChoiceSettingDefinition" | "SimpleSettingDefinition").then(|| format!("{stem}-{i:04}-0000-0000-00000000000b"));
            (format!("{stem}-{i:04}-0000-0000-00000000000a"), format!("{id}-{i}"), value_id, Setting { definition, default })
        })
        .collect();
    Template { entity, settings }
}

/// Every template the sandbox serves.
pub fn templates() -> &'static [Template] {
    static TEMPLATES: OnceLock<Vec<Template>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let d = "device_vendor_msft_policy_config_defender_";
        let so = "device_vendor_msft_policy_config_localpoliciessecurityoptions_";
        let baseline = |id: &str, version: &str, state: &str| {
            template(id, "Security Baseline for Windows 10 and later", version, state, "baseline", "mdm", vec![
                (choice(&format!("{d}allowrealtimemonitoring"), "AllowRealtimeMonitoring", &["0", "1"]), Some(json!(format!("{d}allowrealtimemonitoring_1")))),
                (choice(&format!("{d}puaprotection"), "PUAProtection", &["0", "1", "2"]), Some(json!(format!("{d}puaprotection_1")))),
                (choice(&format!("{so}accounts_limitlocalaccountuseofblankpasswordstoconsolelogononly"), "Accounts: Limit local account use of blank passwords to console logon only", &["0", "1"]), Some(json!(format!("{so}accounts_limitlocalaccountuseofblankpasswordstoconsolelogononly_1")))),
                (integer("device_vendor_msft_policy_config_devicelock_maxinactivitytimedevicelock", "MaxInactivityTimeDeviceLock", 0, 999), Some(json!(15))),
                (string(&format!("{so}interactivelogon_messagetitleforusersattemptingtologon"), "Interactive Logon: Message title for users attempting to log on", false), None),
            ])
        };
        let fw = "vendor_msft_firewall_mdmstore_";
        vec![
            baseline("66df8dce-0166-4b82-92f7-1f74e3ca17a3_3", "Version 23H2", "superseded"),
            baseline("66df8dce-0166-4b82-92f7-1f74e3ca17a3_4", "Version 24H2", "active"),
            template("804339ad-1553-4478-a742-138fb5807418_1", "Microsoft Defender Antivirus", "Version 1", "active", "endpointSecurityAntivirus", "mdm,microsoftSense", vec![
                (choice(&format!("{d}allowrealtimemonitoring"), "AllowRealtimeMonitoring", &["0", "1"]), Some(json!(format!("{d}allowrealtimemonitoring_1")))),
                (choice(&format!("{d}allowcloudprotection"), "AllowCloudProtection", &["0", "1"]), Some(json!(format!("{d}allowcloudprotection_1")))),
                (integer(&format!("{d}avgcpuloadfactor"), "AvgCPULoadFactor", 0, 100), Some(json!(50))),
                (string(&format!("{d}excludedextensions"), "ExcludedExtensions", true), None),
            ]),
            template("6078910e-d808-4a9f-a51d-1b8a7bacb7c0_1", "Windows Firewall", "Version 1", "active", "endpointSecurityFirewall", "mdm,microsoftSense", vec![
                (choice(&format!("{fw}domainprofile_enablefirewall"), "Enable Domain Network Firewall", &["false", "true"]), Some(json!(format!("{fw}domainprofile_enablefirewall_true")))),
                (choice(&format!("{fw}privateprofile_enablefirewall"), "Enable Private Network Firewall", &["false", "true"]), Some(json!(format!("{fw}privateprofile_enablefirewall_true")))),
                (choice(&format!("{fw}publicprofile_enablefirewall"), "Enable Public Network Firewall", &["false", "true"]), Some(json!(format!("{fw}publicprofile_enablefirewall_true")))),
            ]),
            template("46ddfc50-d10f-4867-b852-9434254b3bff_1", "BitLocker", "Version 1", "active", "endpointSecurityDiskEncryption", "mdm", vec![
                (choice("device_vendor_msft_bitlocker_requiredeviceencryption", "Require Device Encryption", &["0", "1"]), Some(json!("device_vendor_msft_bitlocker_requiredeviceencryption_1"))),
                (choice("device_vendor_msft_bitlocker_allowwarningforotherdiskencryption", "Allow Warning For Other Disk Encryption", &["0", "1"]), Some(json!("device_vendor_msft_bitlocker_allowwarningforotherdiskencryption_0"))),
            ]),
            template("e8c053d6-9f95-42b1-a7f1-ebfd71c67a4b_1", "Attack Surface Reduction Rules", "Version 1", "active", "endpointSecurityAttackSurfaceReduction", "mdm,microsoftSense", vec![
                (choice(&format!("{d}attacksurfacereductionrules_blockexecutablecontentfromemailclientandwebmail"), "Block executable content from email client and webmail", &["off", "block", "audit", "warn"]), Some(json!(format!("{d}attacksurfacereductionrules_blockexecutablecontentfromemailclientandwebmail_block")))),
                (choice(&format!("{d}attacksurfacereductionrules_blockcredentialstealingfromwindowslocalsecurityauthoritysubsystem"), "Block credential stealing from the Windows local security authority subsystem", &["off", "block", "audit", "warn"]), Some(json!(format!("{d}attacksurfacereductionrules_blockcredentialstealingfromwindowslocalsecurityauthoritysubsystem_block")))),
            ]),
            template("adc46e5a-f4aa-4ff6-aeff-4f27bc525796_1", "Local admin password solution (Windows LAPS)", "Version 1", "active", "endpointSecurityAccountProtection", "mdm", vec![
                (choice("device_vendor_msft_laps_policies_backupdirectory", "Backup Directory", &["0", "1", "2"]), Some(json!("device_vendor_msft_laps_policies_backupdirectory_1"))),
                (integer("device_vendor_msft_laps_policies_passwordagedays_aad", "Password Age Days", 7, 365), Some(json!(30))),
                (choice("device_vendor_msft_laps_policies_passwordcomplexity", "Password Complexity", &["1", "2", "3", "4"]), Some(json!("device_vendor_msft_laps_policies_passwordcomplexity_4"))),
                (integer("device_vendor_msft_laps_policies_passwordlength", "Password Length", 8, 64), Some(json!(14))),
            ]),
            template("0f2b5d70-d4e9-4156-8c16-1397eb6c54a5_1", "Endpoint detection and response", "Version 1", "active", "endpointSecurityEndpointDetectionAndResponse", "mdm,microsoftSense", vec![
                (choice("device_vendor_msft_windowsadvancedthreatprotection_configuration_samplesharing", "Sample Sharing", &["0", "1"]), Some(json!("device_vendor_msft_windowsadvancedthreatprotection_configuration_samplesharing_1"))),
            ]),
        ]
    })
}

/// A template by id (case-insensitive).
pub fn find(id: &str) -> Option<&'static Template> {
    templates().iter().find(|t| t.id().eq_ignore_ascii_case(id))
}

/// A setting definition that only the templates hold, by id.
pub fn definition(id: &str) -> Option<&'static Value> {
    templates().iter().flat_map(|t| t.settings.iter()).map(|(_, _, _, s)| &s.definition).find(|d| d["id"].as_str().is_some_and(|d| d.eq_ignore_ascii_case(id)))
}

/// `GET /beta/deviceManagement/configurationPolicyTemplates[/{id}[/settingTemplates]]`.
pub fn serve(ctx: &Ctx, req: &GReq, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    if ctx.version != Version::Beta {
        return Err(GraphError::no_segment("configurationPolicyTemplates"));
    }
    if req.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    if q.filter.is_some() {
        return Err(bad("The sandbox does not filter configuration policy templates; list them."));
    }
    let base = format!("{}/deviceManagement/configurationPolicyTemplates", ctx.root());
    let context = "deviceManagement/configurationPolicyTemplates";
    let found = |id: &str| find(id).ok_or_else(|| GraphError::intune(404, "NotFound", &format!("No configuration policy template with id '{id}' exists.")));
    match rest {
        [] => {
            let items = templates().iter().filter_map(|t| t.entity.as_object().cloned()).collect();
            crate::graph::list_values(ctx, context, &base, items, q, INTUNE_PAGE, INTUNE_MAX)
        }
        [id] => {
            let mut out = Map::new();
            out.insert("@odata.context".into(), json!(ctx.context(&format!("{context}/$entity"))));
            out.extend(found(id)?.entity.as_object().cloned().unwrap_or_default());
            Ok(GResp::json(200, Value::Object(out)))
        }
        [id, "settingTemplates"] => {
            let t = found(id)?;
            let with = q.expand.iter().any(|e| e.name == "settingDefinitions");
            crate::graph::list_values(ctx, &format!("{context}('{}')/settingTemplates", t.id()), &format!("{base}/{}/settingTemplates", t.id()), t.setting_templates(with), q, INTUNE_PAGE, INTUNE_MAX)
        }
        _ => Err(GraphError::no_segment(rest.last().copied().unwrap_or_default())),
    }
}

fn template_id(body: &Map<String, Value>) -> Option<&str> {
    body.get("templateReference").and_then(|t| t.get("templateId")).and_then(Value::as_str).filter(|t| !t.is_empty())
}

/// Checks a POST or PUT body of a configuration policy against its
/// template (`existing`: the stored policy, for a PUT), and returns the
/// `templateReference` Intune stores (the template's family, name and
/// version filled in; `none` for a policy made from no template).
pub fn check(body: &Map<String, Value>, settings: &Value, existing: Option<&Map<String, Value>>) -> Result<Value, GraphError> {
    let wanted = template_id(body);
    if let Some(old) = existing {
        let before = template_id(old).unwrap_or_default();
        if !wanted.unwrap_or_default().eq_ignore_ascii_case(before) {
            return Err(bad(&format!("The templateReference of a policy cannot be changed (it is '{before}'); create a new policy.")));
        }
    }
    let Some(id) = wanted else {
        for s in settings.as_array().into_iter().flatten() {
            if s.pointer("/settingInstance/settingInstanceTemplateReference/settingInstanceTemplateId").and_then(Value::as_str).is_some_and(|i| !i.is_empty()) {
                return Err(bad("A setting carries a settingInstanceTemplateReference, but the policy has no templateReference."));
            }
        }
        return Ok(json!({"templateId": "", "templateFamily": "none", "templateDisplayName": null, "templateDisplayVersion": null}));
    };
    let t = find(id).ok_or_else(|| bad(&format!("Template '{id}' was not found.")))?;
    for k in ["platforms", "technologies"] {
        let mine = body.get(k).and_then(Value::as_str).unwrap_or_default();
        let theirs = t.entity[k].as_str().unwrap_or_default();
        if !mine.eq_ignore_ascii_case(theirs) {
            return Err(bad(&format!("Property '{k}' is '{mine}', but template '{}' is for '{theirs}'.", t.id())));
        }
    }
    for s in settings.as_array().into_iter().flatten() {
        let inst = s.get("settingInstance").unwrap_or(&Value::Null);
        let def = inst.get("settingDefinitionId").and_then(Value::as_str).unwrap_or_default();
        let (instance_id, value_id) = t.setting(def).ok_or_else(|| bad(&format!("Setting '{def}' is not part of template '{}'.", t.id())))?;
        let sent = inst.pointer("/settingInstanceTemplateReference/settingInstanceTemplateId").and_then(Value::as_str).unwrap_or_default();
        if sent != instance_id {
            return Err(bad(&format!("Setting '{def}' of a template-based policy must reference setting instance template '{instance_id}' (settingInstanceTemplateReference), got '{sent}'.")));
        }
        if let Some(value_id) = value_id {
            let value = ["choiceSettingValue", "simpleSettingValue"].iter().find_map(|k| inst.get(*k));
            let sent = value.and_then(|v| v.pointer("/settingValueTemplateReference/settingValueTemplateId")).and_then(Value::as_str).unwrap_or_default();
            if sent != value_id {
                return Err(bad(&format!("The value of setting '{def}' must reference setting value template '{value_id}' (settingValueTemplateReference), got '{sent}'.")));
            }
        }
    }
    Ok(json!({
        "templateId": t.id(),
        "templateFamily": t.entity["templateFamily"],
        "templateDisplayName": t.entity["displayName"],
        "templateDisplayVersion": t.entity["displayVersion"],
    }))
}
