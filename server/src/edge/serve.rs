//! The accept loop: HTTP/1.1 connections with a header read timeout (a client
//! that trickles its headers, slowloris-style, is cut off instead of holding a
//! socket and a task for ever), and a bounded graceful shutdown: once told to
//! stop, no new connections are accepted, requests in flight get a grace
//! period, then whatever is still open is closed.
//!
//! `axum::serve` sets no timer, so hyper's header timeout never fires there,
//! and its graceful shutdown waits for every connection without bound.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::Service;

#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// A connection that has not sent a complete request head this long after
    /// it opened (or after its previous response) is closed.
    pub header_timeout: Duration,
    /// How long requests in flight may run on after shutdown begins.
    pub grace: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then drains (see the
/// module documentation). Each request carries its peer's `ConnectInfo`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Finished connections are reaped as new ones come.
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            app.clone(),
            options,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = connections.len();
    let drained = tokio::time::timeout(options.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            of = open,
            grace_secs = options.grace.as_secs(),
            "closing the connections still open after the shutdown grace"
        );
        connections.shutdown().await;
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    options: ServeOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move {
            let res = app.call(req.map(Body::new)).await;
            Ok::<_, Infallible>(res.unwrap_or_else(|never| match never {}))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    // hyper's own bodiless 400/414/431 answers get the API's JSON error body.
    let io = super::head_errors::JsonHeadErrors::new(stream);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = async { let _ = stop.wait_for(|stop| *stop).await; } => {
            // Finish the request in flight, then close (an idle one closes now).
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}
