//! A round-robin TCP balancer in front of replicas, as a load balancer is in production: each connection goes to
//! the next replica that accepts it, so requests reach every live replica and skip a dead one.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::net::{TcpListener, TcpStream};

pub struct Balancer {
    pub addr: SocketAddr,
    /// Connections forwarded to each backend so far, in the order given.
    connections: Arc<Vec<AtomicU64>>,
}

impl Balancer {
    /// Listens on a free loopback port and forwards each connection to one of `backends` in turn.
    pub async fn start(backends: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("balancer binds");
        let addr = listener.local_addr().expect("balancer address");
        let connections: Arc<Vec<AtomicU64>> = Arc::new(backends.iter().map(|_| AtomicU64::new(0)).collect());
        let counts = connections.clone();
        tokio::spawn(async move {
            let mut next = 0;
            while let Ok((mut inbound, _)) = listener.accept().await {
                // The first backend, from the next in turn, that accepts; none: the caller sees its connection cut.
                let mut outbound = None;
                for i in (0..backends.len()).map(|i| (next + i) % backends.len()) {
                    if let Ok(stream) = TcpStream::connect(backends[i]).await {
                        counts[i].fetch_add(1, Ordering::Relaxed);
                        outbound = Some(stream);
                        break;
                    }
                }
                next += 1;
                if let Some(mut outbound) = outbound {
                    tokio::spawn(async move {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    });
                }
            }
        });
        Self { addr, connections }
    }

    /// Connections forwarded to the `i`th backend so far.
    pub fn connections(&self, i: usize) -> u64 {
        self.connections[i].load(Ordering::Relaxed)
    }
}
