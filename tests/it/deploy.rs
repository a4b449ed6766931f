//! The deployment files agree with the binaries: docker-compose.yml passes each container exactly the environment
//! variables its binary reads, and `.env.example` documents every variable the compose file interpolates.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_norway::Value;

fn repository_file(name: &str) -> PathBuf {
  PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn compose_file() -> Value {
  let text = std::fs::read_to_string(repository_file("docker-compose.yml"))
    .expect("read docker-compose.yml");
  let mut compose: Value = serde_norway::from_str(&text).expect("parse docker-compose.yml");
  compose.apply_merge().expect("resolve YAML merge keys");
  compose
}

fn environment_of(compose: &Value, service: &str) -> BTreeSet<String> {
  let environment = &compose["services"][service]["environment"];
  let mut environment = environment.clone();
  environment
    .apply_merge()
    .expect("resolve merge keys of the environment");
  environment
    .as_mapping()
    .unwrap_or_else(|| panic!("service {service} has an environment mapping"))
    .keys()
    .map(|key| key.as_str().expect("variable names are strings").to_owned())
    .collect()
}

fn set_of(names: &[&str]) -> BTreeSet<String> {
  names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn the_api_container_gets_exactly_the_variables_the_api_reads() {
  let compose = compose_file();
  assert_eq!(
    environment_of(&compose, "api"),
    set_of(api::ENVIRONMENT_VARIABLES)
  );
}

#[test]
fn the_worker_container_gets_exactly_the_variables_the_worker_reads() {
  let compose = compose_file();
  assert_eq!(
    environment_of(&compose, "worker"),
    set_of(worker::ENVIRONMENT_VARIABLES)
  );
}

#[test]
fn the_migrate_step_only_gets_variables_the_worker_reads() {
  let compose = compose_file();
  let migrate = environment_of(&compose, "migrate");
  let worker_variables = set_of(worker::ENVIRONMENT_VARIABLES);
  assert!(
    migrate.is_subset(&worker_variables),
    "unknown variables: {:?}",
    migrate.difference(&worker_variables)
  );
  assert!(migrate.contains("DATABASE_URL"));
}

#[test]
fn every_interpolated_compose_variable_is_documented_in_the_env_example() {
  let compose_text =
    std::fs::read_to_string(repository_file("docker-compose.yml")).expect("read compose file");
  let example =
    std::fs::read_to_string(repository_file(".env.example")).expect("read .env.example");
  let documented: BTreeSet<&str> = example
    .lines()
    .filter(|line| !line.starts_with('#'))
    .filter_map(|line| line.split('=').next())
    .collect();
  let interpolated: BTreeSet<&str> = compose_text
    .lines()
    .filter(|line| !line.trim_start().starts_with('#'))
    .flat_map(|line| line.split("${").skip(1))
    .filter_map(|rest| rest.split([':', '}']).next())
    .collect();
  let missing: Vec<_> = interpolated.difference(&documented).collect();
  assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}
