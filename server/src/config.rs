//! Configuration: every setting is a `--flag` and an environment variable; a bad value stops start-up with a
//! message that names the variable.

use std::net::IpAddr;

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Where the mirror lives: `sqlite://…` (embedded default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/mirror.db?mode=rwc", value_parser = database_url)]
    pub database_url: String,

    /// Redis for the shared cache; unset means an in-process cache.
    #[arg(long, env = "REDIS_URL", value_parser = redis_url)]
    pub redis_url: Option<String>,

    /// TCP port of the HTTP server.
    #[arg(long, env = "PORT", default_value_t = 4000, value_parser = port)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1", value_parser = bind)]
    pub bind: IpAddr,
}

fn database_url(value: &str) -> Result<String, String> {
    if ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| value.starts_with(p)) {
        Ok(value.to_owned())
    } else {
        Err(format!("DATABASE_URL must start with sqlite: or postgres://, got {value:?}"))
    }
}

fn redis_url(value: &str) -> Result<String, String> {
    if value.starts_with("redis://") || value.starts_with("rediss://") {
        Ok(value.to_owned())
    } else {
        Err(format!("REDIS_URL must start with redis:// or rediss://, got {value:?}"))
    }
}

fn port(value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("PORT must be a port number from 1 to 65535, got {value:?}"))
}

fn bind(value: &str) -> Result<IpAddr, String> {
    value.parse().map_err(|_| format!("BIND must be an IP address such as 127.0.0.1 or 0.0.0.0, got {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_variable() {
        assert!(port("0").unwrap_err().contains("PORT"));
        assert!(port("http").unwrap_err().contains("PORT"));
        assert!(bind("localhost:1").unwrap_err().contains("BIND"));
        assert!(database_url("mysql://x").unwrap_err().contains("DATABASE_URL"));
        assert!(redis_url("localhost").unwrap_err().contains("REDIS_URL"));
        assert_eq!(port("4000"), Ok(4000));
    }
}
