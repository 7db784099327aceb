pub mod analyze_file;
pub mod camsim;
pub mod check_config;
pub mod models;
pub mod run;
pub mod schema;
pub mod send_alert;
pub mod users;
