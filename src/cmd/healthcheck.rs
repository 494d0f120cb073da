//! `jitterd healthcheck`: GET `/-/healthy` of the daemon this config describes.
//!
//! For container health checks in images with no shell or curl. A wildcard
//! listen address is reached through loopback. With `--web.config.file`
//! naming a TLS certificate it speaks HTTPS and trusts exactly that
//! certificate (whatever names it carries, since it is dialled on
//! loopback); `/-/healthy` needs no credentials.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::Config;
use crate::error::Failure;
use crate::web_config::WebSecurity;

const TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn command(config: &Config, web: &WebSecurity) -> Result<(), Failure> {
    let addr = config.web.listen_address;
    let target = SocketAddr::new(
        match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        },
        addr.port(),
    );
    let (url, status) = match &web.certificate {
        None => {
            let url = format!("http://{target}/-/healthy");
            let agent = ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).build().new_agent();
            let status = agent.get(&url).call().map(|response| response.status().as_u16());
            (url, status.map_err(|err| err.to_string()))
        }
        Some(certificate) => {
            let url = format!("https://{target}/-/healthy");
            (url, get_tls(target, certificate.clone()))
        }
    };
    match status {
        Ok(200) => {
            println!("{url}: healthy");
            Ok(())
        }
        Ok(status) => Err(Failure::Other(anyhow::anyhow!("{url}: unhealthy, HTTP {status}"))),
        Err(err) => Err(Failure::Other(anyhow::anyhow!("{url}: {err}"))),
    }
}

/// One HTTPS GET of `/-/healthy`, trusting only `certificate`: the status.
fn get_tls(target: SocketAddr, certificate: CertificateDer<'static>) -> Result<u16, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Pinned { certificate, algorithms: provider.signature_verification_algorithms };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let connection = rustls::ClientConnection::new(Arc::new(config), ServerName::IpAddress(target.ip().into()))
        .map_err(|err| err.to_string())?;
    let socket = TcpStream::connect_timeout(&target, TIMEOUT).map_err(|err| err.to_string())?;
    socket.set_read_timeout(Some(TIMEOUT)).map_err(|err| err.to_string())?;
    socket.set_write_timeout(Some(TIMEOUT)).map_err(|err| err.to_string())?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    let request = format!(
        "GET /-/healthy HTTP/1.1\r\nHost: {target}\r\nUser-Agent: jitterd-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(|err| err.to_string())?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).map_err(|err| err.to_string())?;
    // "HTTP/1.1 200"
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {:?}", String::from_utf8_lossy(&head)))
}

/// Trusts one certificate: the daemon's own, from the web config file.
/// Handshake signatures are still verified, so only the holder of its key
/// passes.
#[derive(Debug)]
struct Pinned {
    certificate: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("the server's certificate is not the one in the web config file".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
