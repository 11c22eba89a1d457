super::endpoint::endpoint_cli! {
    name: "source",
    about: "manage sources (where records come from)",
    service: sources,
    entity: sources,
    id: SourceId,
    default_type: "json",
    type_help: "json, scraped, manual or api (default json)",
    config_help: "config JSON object, e.g. '{\"max_delete_fraction\": 0.2}'",
}
