//! Isolation: traps and timeouts never disturb a call running at the same
//! time on the same plugin. (The harness checks the rest: after every
//! hostile call the same plugin answers a good call, and another plugin of
//! the same host answers throughout.)

use std::sync::Arc;
use std::time::Duration;

use polyplug::CallError;

use crate::support::{clock_plugin, host_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn traps_and_timeouts_never_disturb_a_concurrent_call_on_the_same_plugin() {
    // `wait` takes 1.5s of wall time; the timeout is 2s.
    let mut plugin = clock_plugin(Duration::from_millis(1500));
    plugin.limits.timeout = Duration::from_secs(2);
    plugin.limits.instances = 4;
    let host = Arc::new(host_with("shared", plugin));
    let call = |function: &'static str| {
        let host = host.clone();
        tokio::spawn(async move { host.call_json("shared", function, "{}").await })
    };

    // t=0: two spinners, timing out at t=2s. t=1s: the worker, running to
    // t=2.5s across both timeouts. Meanwhile, on the fourth instance,
    // crash after crash, each followed by a quick call.
    let spinners = [call("spin"), call("spin")];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let worker = call("wait");
    let mut crashes = 0;
    while !worker.is_finished() {
        let crashed = host.call_json("shared", "crash", "{}").await;
        assert!(
            matches!(crashed, Err(CallError::Trap { .. })),
            "{crashed:?}"
        );
        assert_eq!(host.call_json("shared", "quick", "{}").await.unwrap(), b"0");
        crashes += 1;
    }

    assert_eq!(
        worker
            .await
            .unwrap()
            .expect("the worker must not be disturbed"),
        b"0"
    );
    for spinner in spinners {
        let spun = spinner.await.unwrap();
        assert!(matches!(spun, Err(CallError::Timeout { .. })), "{spun:?}");
    }
    assert!(
        crashes > 10,
        "only {crashes} crashes ran alongside the worker"
    );
}
