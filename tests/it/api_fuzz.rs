//! Property-based fuzzing of the api against its own OpenAPI document with schemathesis (run by
//! `scripts/fuzz-api.sh`; ignored by default because it needs the `schemathesis` command and takes a while).

use f1_backend::Engine;

use crate::api_support::TestApi;

#[tokio::test]
#[ignore = "needs schemathesis (pip install schemathesis); run scripts/fuzz-api.sh"]
async fn schemathesis_finds_no_server_errors_or_spec_violations() {
  let api = TestApi::seeded(
    Engine::Sqlite,
    &[
      "9472_bahrain_2024_race",
      "11253_suzuka_2026_race",
      "11249_suzuka_2026_qualifying",
      "season_2023_2025",
      "season_2024_opening_rounds",
    ],
  )
  .await;
  let executable = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".to_owned());
  let max_examples = std::env::var("FUZZ_MAX_EXAMPLES").unwrap_or_else(|_| "50".to_owned());
  let schema = format!("{}/openapi.json", api.base_url);
  let config = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis.toml");
  let status = tokio::process::Command::new(executable)
    .args([
      "--config-file",
      config,
      "run",
      &schema,
      "--url",
      &api.base_url,
      "--checks",
      "all",
      "--max-examples",
      &max_examples,
      "--workers",
      "2",
      "--suppress-health-check",
      "all",
    ])
    .status()
    .await
    .expect("run schemathesis (is it installed? pip install schemathesis)");
  assert!(status.success(), "schemathesis reported failures");
}
