super::endpoint::endpoint_cli! {
    name: "source",
    about: "manage sources (where records come from)",
    service: sources,
    entity: sources,
    id: SourceId,
    default_type: "json",
    type_help: "json (default), scraped, manual or api (for now records are imported into every type; nothing is fetched yet)",
    config_help: "config JSON object with max_delete_fraction (0 to 1: the largest share of live records a full import may delete), e.g. '{\"max_delete_fraction\": 0.2}'; other keys are refused",
}
