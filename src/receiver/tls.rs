//! A throw-away certificate authority and a server certificate it signs, for HTTPS on
//! localhost. Senders trust the CA's PEM (for biotz: `BIOTZ_EXTRA_CA_CERTS`).

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// PEM texts: the CA to trust, and the server's certificate and key.
#[derive(Clone)]
pub struct LocalTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for LocalTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalTls(redacted)")
    }
}

impl LocalTls {
    /// A new CA and a certificate for `localhost`, `127.0.0.1` and `::1` (plus `extra_names`).
    pub fn generate(extra_names: &[String]) -> anyhow::Result<Self> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Biotz local receiver CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        names.extend(extra_names.iter().cloned());
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        Ok(Self {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    pub async fn rustls_config(&self) -> anyhow::Result<RustlsConfig> {
        install_crypto_provider();
        RustlsConfig::from_pem(
            self.cert_pem.clone().into_bytes(),
            self.key_pem.clone().into_bytes(),
        )
        .await
        .context("loading the receiver's certificate")
    }
}

/// Makes aws-lc-rs the process's rustls provider (the one reqwest uses too); harmless when done.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Serves `router` over HTTPS (HTTP/1.1 and HTTP/2, `TCP_NODELAY`) on `listener` in a task.
/// Returns the bound address and the handle that stops it.
pub async fn serve_https(
    listener: std::net::TcpListener,
    tls: &LocalTls,
    router: Router,
) -> anyhow::Result<(SocketAddr, Handle<SocketAddr>)> {
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let config = tls.rustls_config().await?;
    let handle = Handle::new();
    let acceptor = RustlsAcceptor::new(config).acceptor(NoDelayAcceptor::new());
    let server = axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle.clone());
    tokio::spawn(async move {
        if let Err(error) = server
            .serve(router.into_make_service_with_connect_info::<SocketAddr>())
            .await
        {
            tracing::error!(%error, "the HTTPS receiver stopped");
        }
    });
    Ok((address, handle))
}
