super::endpoint::endpoint_cli! {
    name: "target",
    about: "manage targets (where records go)",
    service: targets,
    entity: targets,
    id: TargetId,
    default_type: "website",
    type_help: "website, database, api, webhook or file (default website)",
    config_help: "config JSON object, e.g. '{\"conflict_policy\": \"merge\", \"delete_policy\": \"mark\"}'",
}
