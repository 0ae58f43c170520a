//! Stage 1 of the pipeline (desired state): one module per resource kind with
//! its TOML type. Field names are the snake_case spelling of the Graph
//! property they set, so an admin who knows Graph can read them, and so the
//! providers' mapping to Graph stays mechanical.

pub mod assignment;
pub mod assignment_filter;
pub mod authentication_strength;
pub mod change;
pub mod autopilot_profile;
pub mod compliance_policy;
pub mod conditional_access;
pub mod conditional_access_rules;
pub mod device_category;
pub mod device_configuration;
pub mod driver_update_profile;
pub mod feature_update_profile;
pub mod file;
pub mod governance;
pub mod group;
pub mod guest;
pub mod named_location;
pub mod quality_update_profile;
pub mod role_assignment;
pub mod rollout;
pub mod scope_tag;
pub mod settings_catalog;
pub mod state_backend;
pub mod tenant;
pub mod update_ring;
pub mod user;
pub mod licenses;
pub mod authorization_policy;
pub mod cross_tenant_access;

pub use assignment::Assignments;
pub use assignment_filter::AssignmentFilter;
pub use authentication_strength::AuthenticationStrength;
pub use autopilot_profile::AutopilotProfile;
pub use compliance_policy::CompliancePolicy;
pub use conditional_access::ConditionalAccess;
pub use device_category::DeviceCategory;
pub use device_configuration::DeviceConfiguration;
pub use driver_update_profile::DriverUpdateProfile;
pub use feature_update_profile::FeatureUpdateProfile;
pub use quality_update_profile::QualityUpdateProfile;
pub use governance::Governance;
pub use group::Group;
pub use guest::Guest;
pub use named_location::NamedLocation;
pub use role_assignment::RoleAssignment;
pub use rollout::Rollout;
pub use scope_tag::ScopeTag;
pub use settings_catalog::SettingsCatalog;
pub use state_backend::StateBackend;
pub use tenant::Tenant;
pub use update_ring::UpdateRing;
pub use user::User;
pub use authorization_policy::AuthorizationPolicy;
pub use cross_tenant_access::CrossTenantAccess;
