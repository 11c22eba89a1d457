super::endpoint::endpoint_cli! {
    name: "target",
    about: "manage targets (where records go)",
    service: targets,
    entity: targets,
    id: TargetId,
    default_type: "website",
    type_help: "website (default: your website reads the records through the API), or database, api, webhook or file (for now these keep the records here; nothing is sent yet)",
    config_help: "config JSON object with conflict_policy (merge, keep_target, overwrite) and delete_policy (mark, ignore), e.g. '{\"conflict_policy\": \"merge\", \"delete_policy\": \"mark\"}'; other keys are refused",
}
