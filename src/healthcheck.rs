//! `jitterd healthcheck`: GET `/-/healthy` of the daemon this config describes.
//!
//! For container health checks in images with no shell or curl. A wildcard
//! listen address is reached through loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::app::Failure;
use crate::config::Config;

pub fn run(config: &Config) -> Result<(), Failure> {
    let addr = config.web.socket_addr().map_err(|msg| Failure::Config(format!("web.listen_address: {msg}")))?;
    let target = SocketAddr::new(
        match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        },
        addr.port(),
    );
    let url = format!("http://{target}/-/healthy");
    let agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().new_agent();
    match agent.get(&url).call() {
        Ok(response) if response.status() == 200 => {
            println!("{url}: healthy");
            Ok(())
        }
        Ok(response) => Err(Failure::Other(anyhow::anyhow!("{url}: unhealthy, HTTP {}", response.status()))),
        Err(err) => Err(Failure::Other(anyhow::anyhow!("{url}: {err}"))),
    }
}
