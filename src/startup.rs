//! Building and running the server: connect and migrate the store, bind the listener, print the
//! first-run setup link, serve until asked to stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use tokio::sync::watch;

use crate::config::{DatabaseSettings, DispatchSettings, ServeSettings, WorkerSettings};
use crate::dispatch::metrics::Metrics;
use crate::dispatch::{Dispatcher, Handoff};
use crate::domain::random;
use crate::domain::time::now_ms;
use crate::store::{Store, token_hash};
use crate::web::{self, AppState, SignInLimiter, WebSettings};

const SETUP_LINK_LIFETIME_MS: i64 = 24 * 3600 * 1000;

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    port: u16,
    setup_link: Option<String>,
    dispatcher: Option<(Arc<Dispatcher>, Duration)>,
    mqtt: Option<MqttIngest>,
    retention: crate::retention::RetentionSettings,
}

/// MQTT ingest, started with the server.
struct MqttIngest {
    settings: crate::ingest_mqtt::MqttSettings,
    extra_ca_certs: Option<Vec<u8>>,
    pipeline: Arc<crate::ingest_mqtt::Pipeline>,
    status: Arc<crate::ingest_mqtt::MqttStatus>,
}

/// How long a stopping dispatcher waits for the attempts in flight before giving their leases back.
pub fn shutdown_grace(settings: &DispatchSettings) -> Duration {
    settings.delivery_timeout.min(Duration::from_secs(30)) + Duration::from_secs(1)
}

/// Connects to the database and applies its migrations.
pub async fn open_store(settings: &DatabaseSettings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.store_options(), settings.master_key.clone())
        .await
        .with_context(|| format!("connecting to the database {}", settings.url))?;
    store
        .migrate()
        .await
        .with_context(|| format!("applying the migrations to {}", settings.url))?;
    if let Ok(transport) = store.transport().await {
        tracing::info!(backend = store.backend(), transport, "database ready");
    }
    Ok(store)
}

impl Application {
    pub async fn build(settings: ServeSettings) -> anyhow::Result<Self> {
        let store = open_store(&settings.database).await?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listening on {} (BIOTZ_LISTEN)", settings.listen))?;
        let port = listener.local_addr()?.port();
        let public_url = if settings.listen.port() == 0 {
            format!("http://{}:{port}", settings.listen.ip())
        } else {
            settings.public_url.clone()
        };
        let setup_link = if store.user_count().await? == 0 {
            let token = random::token();
            store
                .add_setup_token(&token_hash(&token), now_ms() + SETUP_LINK_LIFETIME_MS)
                .await?;
            Some(format!("{public_url}/setup/{token}"))
        } else {
            None
        };
        let metrics = Arc::new(Metrics::default());
        let dispatcher = if settings.dispatcher {
            let dispatcher =
                Dispatcher::new(store.clone(), settings.dispatch.clone(), metrics.clone())?;
            Some((Arc::new(dispatcher), shutdown_grace(&settings.dispatch)))
        } else {
            None
        };
        let schemas: Arc<crate::alarms::schemas::SchemaCache> = Default::default();
        let lookups: Arc<crate::alarms::cache::Lookups> = Default::default();
        let writer = crate::alarms::ingest::IngestWriter::spawn(
            store.clone(),
            dispatcher
                .as_ref()
                .map(|(dispatcher, _)| Handoff::new(dispatcher.clone())),
        );
        let mqtt = settings.mqtt.clone().map(|mqtt| MqttIngest {
            settings: mqtt,
            extra_ca_certs: settings.dispatch.extra_ca_certs.clone(),
            pipeline: Arc::new(crate::ingest_mqtt::Pipeline {
                store: store.clone(),
                schemas: schemas.clone(),
                lookups: lookups.clone(),
                writer: writer.clone(),
            }),
            status: Default::default(),
        });
        let state = AppState {
            store: store.clone(),
            web: Arc::new(WebSettings {
                secure_cookies: public_url.starts_with("https://"),
                public_url,
                default_retain: settings.retention.default,
                export_dir: settings.retention.export_dir.is_some(),
                sign_in_limiter: SignInLimiter::new(
                    10,
                    Duration::from_secs(15 * 60),
                    settings.trusted_proxies.clone(),
                ),
                cookie_key: web::session::CookieKey::derive(store.master_key()),
            }),
            schemas,
            ingest: writer,
            lookups,
            metrics,
            mqtt: mqtt.as_ref().map(|m| m.status.clone()),
        };
        Ok(Self {
            listener,
            router: web::router(state),
            store,
            port,
            setup_link,
            dispatcher,
            mqtt,
            retention: settings.retention.clone(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The one-time link that creates the first organization, when there are no users yet.
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves (and dispatches) until `shutdown` completes, then finishes the requests in flight
    /// and stops the dispatcher (see `Dispatcher::run`).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopping) = watch::channel(false);
        // Part of this future, not spawned: it stops with the server.
        let timers = crate::alarms::timers::run(self.store.clone(), stopping.clone());
        let dispatcher = self
            .dispatcher
            .map(|(dispatcher, grace)| tokio::spawn(dispatcher.run(stopping.clone(), grace)));
        let purger = tokio::spawn(crate::retention::run(
            self.store.clone(),
            self.retention,
            stopping.clone(),
        ));
        let mqtt = self.mqtt.map(|m| {
            tokio::spawn(crate::ingest_mqtt::run(
                m.settings,
                m.extra_ca_certs,
                m.pipeline,
                m.status,
                stopping,
            ))
        });
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = self
            .router
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let (served, ()) = tokio::join!(serving.into_future(), timers);
        let served = served.context("serving HTTP");
        if let Some(dispatcher) = dispatcher {
            let _ = dispatcher.await;
        }
        let _ = purger.await;
        if let Some(mqtt) = mqtt {
            match mqtt.await {
                Ok(Err(error)) => {
                    tracing::error!(error = format!("{error:#}"), "MQTT ingest failed")
                }
                Err(error) => tracing::error!(%error, "MQTT ingest stopped abnormally"),
                Ok(Ok(())) => {}
            }
        }
        self.store.close().await;
        served
    }
}

/// `biotz worker`: the dispatcher alone, and the health routes on `settings.listen` when set,
/// until `shutdown` completes.
pub async fn run_worker(
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&settings.database).await?;
    let listener = match settings.listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("listening on {address} (BIOTZ_WORKER_LISTEN)"))?,
        ),
        None => None,
    };
    let grace = shutdown_grace(&settings.dispatch);
    let metrics = Arc::new(Metrics::default());
    let dispatcher = Arc::new(Dispatcher::new(
        store.clone(),
        settings.dispatch,
        metrics.clone(),
    )?);
    let (stop, stopping) = watch::channel(false);
    let running = tokio::spawn(dispatcher.run(stopping.clone(), grace));
    let serving = listener.map(|listener| {
        let address = listener.local_addr().map(|a| a.to_string());
        // Printed, not only logged: whoever started the worker on port 0 reads the port here.
        println!("listening on {}", address.as_deref().unwrap_or("?"));
        let router = web::health::router(web::health::Health {
            store: store.clone(),
            metrics,
            mqtt: None,
        })
        .layer(tower_http::trace::TraceLayer::new_for_http());
        let mut stopping = stopping;
        tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                })
                .into_future(),
        )
    });
    shutdown.await;
    let _ = stop.send(true);
    let _ = running.await;
    if let Some(serving) = serving
        && let Ok(Err(error)) = serving.await
    {
        tracing::error!(%error, "serving the health routes failed");
    }
    store.close().await;
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
