//! Prints the reports in the given files as JSON (for eyeballing).
fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let res = authwarden_aggregate::ingest_paths(&paths, &authwarden_aggregate::Limits::default());
    println!("{}", serde_json::to_string_pretty(&res).unwrap());
}
