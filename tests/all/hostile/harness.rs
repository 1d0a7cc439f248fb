//! The table-driven harness: a [`Case`] is one hostile plugin, the call
//! that misbehaves, and the typed error it must end in, within a time bound.
//!
//! [`check`] runs a case in a host that also holds a well-behaved
//! `bystander` plugin, and after every hostile call checks that the same
//! plugin still answers a good call correctly, while the bystander is
//! called throughout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use polyplug::{CallError, Host, HostConfig, Limits, LoadError, PluginConfig};

use super::wat::{self, GOOD_OUTPUT};

/// How far past its bound a result may arrive. The bounds are limits the
/// host enforces (a timeout, a "well under a second" promise); the slack
/// covers scheduling on a loaded 2-core machine shared with compilers, and
/// Extism's timer thread, which must itself be scheduled to interrupt a
/// call.
pub const SLACK: Duration = Duration::from_millis(500);

/// Repetitions of a cheap case in the repetition run.
const CHEAP_REPETITIONS: usize = 1_000;

/// Environment variable that raises every case to that many repetitions.
const SOAK_ENV: &str = "POLYPLUG_SOAK";

/// How often the repetition run repeats a case.
#[derive(Debug, Clone, Copy)]
pub enum Cost {
    /// Well under a millisecond or two: [`CHEAP_REPETITIONS`] times.
    Cheap,
    /// Bound by a timeout, real I/O or large copies: this many times.
    Costly(usize),
}

impl Cost {
    /// Repetitions for this cost, or `POLYPLUG_SOAK` when that is set.
    pub fn repetitions(self) -> usize {
        if let Some(soak) = soak() {
            return soak;
        }
        match self {
            Self::Cheap => CHEAP_REPETITIONS,
            Self::Costly(n) => n,
        }
    }
}

/// `POLYPLUG_SOAK`, when it is set to a number.
fn soak() -> Option<usize> {
    let value = std::env::var(SOAK_ENV).ok()?;
    let parsed = value.trim().replace('_', "").parse();
    let n = parsed.unwrap_or_else(|_| panic!("`{SOAK_ENV}` = `{value}`: expected a number"));
    Some(n)
}

/// What a hostile call must end in.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Success with exactly this output: the misbehaviour was harmless.
    Output(Vec<u8>),
    /// [`CallError::Timeout`] naming the plugin's timeout; it must also not
    /// arrive before the timeout.
    Timeout,
    /// [`CallError::OutOfFuel`] naming the plugin's fuel.
    OutOfFuel,
    /// [`CallError::MemoryLimit`] naming the plugin's memory ceiling.
    MemoryLimit,
    /// [`CallError::Trap`] whose root cause contains this text ("" for
    /// any): the variant says the plugin crashed, the text which way.
    Trap(&'static str),
    /// [`CallError::OutputTooLarge`] of this size against `max_output`.
    OutputTooLarge(u64),
    InvalidOutput,
    InvalidInput,
    /// [`CallError::InputTooLarge`] of this size against `max_input`.
    InputTooLarge(u64),
    /// [`CallError::HostNotAllowed`] naming this host.
    HostNotAllowed(String),
    /// Anything but [`CallError::HostNotAllowed`]: `allowed_hosts` let the
    /// request through, to a port whose answer (if any) depends on the
    /// machine, such as 80.
    Admitted,
    /// [`CallError::Plugin`] with this code: the guest handled it.
    PluginError(&'static str),
    UnknownFunction,
}

impl Expect {
    fn accepts(&self, result: &Result<Vec<u8>, CallError>, limits: &Limits) -> bool {
        use CallError as E;
        match (self, result) {
            (Self::Output(want), Ok(got)) => want == got,
            (Self::Timeout, Err(E::Timeout { limit, .. })) => *limit == limits.timeout,
            (Self::OutOfFuel, Err(E::OutOfFuel { limit, .. })) => *limit == limits.fuel,
            (Self::MemoryLimit, Err(E::MemoryLimit { limit, .. })) => *limit == limits.memory,
            (Self::Trap(cause), Err(E::Trap { message, .. })) => message.contains(cause),
            (Self::OutputTooLarge(want), Err(E::OutputTooLarge { size, limit, .. })) => {
                size == want && *limit == limits.max_output
            }
            (Self::InvalidOutput, Err(E::InvalidOutput { .. })) => true,
            (Self::InvalidInput, Err(E::InvalidInput { .. })) => true,
            (Self::InputTooLarge(want), Err(E::InputTooLarge { size, limit, .. })) => {
                size == want && *limit == limits.max_input
            }
            (Self::HostNotAllowed(want), Err(E::HostNotAllowed { host, .. })) => host == want,
            (Self::Admitted, result) => !matches!(result, Err(E::HostNotAllowed { .. })),
            (Self::UnknownFunction, Err(E::UnknownFunction { .. })) => true,
            (Self::PluginError(want), Err(E::Plugin { code, .. })) => code == want,
            _ => false,
        }
    }
}

/// A call that a healthy plugin answers, and its exact answer.
#[derive(Debug, Clone, Copy)]
pub struct Good {
    pub function: &'static str,
    pub input: &'static [u8],
    pub output: &'static [u8],
}

/// `good` of every module built by [`wat::module`].
pub const WAT_GOOD: Good = Good {
    function: "good",
    input: b"{}",
    output: GOOD_OUTPUT,
};

/// One hostile behaviour: the plugin, the call, and how it must end.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub plugin: PluginConfig,
    pub function: &'static str,
    pub input: Vec<u8>,
    pub expect: Expect,
    /// The result must arrive within this, plus [`SLACK`]. Defaults to the
    /// plugin's timeout: whatever a plugin does, its caller hears back
    /// within it.
    pub within: Duration,
    pub cost: Cost,
    /// A call the same plugin must answer correctly right after; `None`
    /// only for a module that can never run at all.
    pub good: Option<Good>,
}

impl Case {
    pub fn new(
        name: impl Into<String>,
        plugin: PluginConfig,
        function: &'static str,
        expect: Expect,
    ) -> Self {
        Self {
            name: name.into(),
            within: plugin.limits.timeout,
            plugin,
            function,
            input: b"{}".to_vec(),
            expect,
            cost: Cost::Cheap,
            good: Some(WAT_GOOD),
        }
    }

    /// A case whose module is [`wat::module`]`(body)`, calling `f`.
    pub fn wat(name: impl Into<String>, body: &str, expect: Expect) -> Self {
        Self::new(name, wat::plugin(body), "f", expect)
    }

    pub fn input(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = input.into();
        self
    }

    pub fn within(mut self, within: Duration) -> Self {
        self.within = within;
        self
    }

    pub fn cost(mut self, cost: Cost) -> Self {
        self.cost = cost;
        self
    }

    pub fn good(mut self, good: Good) -> Self {
        self.good = Some(good);
        self
    }

    /// Changes the plugin's config; the time bound follows a new timeout.
    pub fn configure(mut self, change: impl FnOnce(&mut PluginConfig)) -> Self {
        let timeout = self.plugin.limits.timeout;
        change(&mut self.plugin);
        if self.within == timeout {
            self.within = self.plugin.limits.timeout;
        }
        self
    }

    pub fn limits(self, change: impl FnOnce(&mut Limits)) -> Self {
        self.configure(|plugin| change(&mut plugin.limits))
    }
}

/// What a run of one case saw.
#[derive(Debug, Clone, Copy)]
pub struct Observed {
    pub repetitions: usize,
    pub slowest: Duration,
    pub total: Duration,
    pub bystander_calls: usize,
}

const HOSTILE: &str = "hostile";
const BYSTANDER: &str = "bystander";

/// Runs `case` `repetitions` times in one host, asserting every result, its
/// time, the good call after it, and the bystander throughout.
pub async fn check(case: &Case, repetitions: usize) -> Observed {
    let config = HostConfig::new(BTreeMap::from([
        (HOSTILE.to_string(), case.plugin.clone()),
        (BYSTANDER.to_string(), wat::plugin("")),
    ]));
    let host = Arc::new(
        Host::new(config)
            .unwrap_or_else(|err| panic!("case `{}`: loading failed: {err}", case.name)),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let bystander = tokio::spawn(keep_calling_bystander(host.clone(), stop.clone()));
    let limits = &case.plugin.limits;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for repetition in 0..repetitions {
        let input = case.input.clone();
        let before = Instant::now();
        let result = host.call_json(HOSTILE, case.function, input).await;
        let took = before.elapsed();
        let name = &case.name;
        assert!(
            case.expect.accepts(&result, limits),
            "case `{name}`, repetition {repetition}: expected {:?}, got {}",
            case.expect,
            describe(&result)
        );
        assert!(
            took <= case.within + SLACK,
            "case `{name}`, repetition {repetition}: took {took:?}, over its bound of {:?} (+{SLACK:?})",
            case.within
        );
        // A timeout must not fire early (unless the case is about a plugin
        // posing as one, which arrives at once).
        if matches!(case.expect, Expect::Timeout) && case.within >= limits.timeout {
            assert!(
                took >= limits.timeout,
                "case `{name}`: timed out after {took:?}, before its {:?} timeout",
                limits.timeout
            );
        }
        slowest = slowest.max(took);
        if let Some(good) = case.good {
            let result = host.call_json(HOSTILE, good.function, good.input).await;
            assert!(
                result.as_deref().is_ok_and(|out| out == good.output),
                "case `{name}`, repetition {repetition}: the plugin's good call `{}` then gave {}",
                good.function,
                describe(&result)
            );
        }
    }
    let total = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let bystander_calls = bystander
        .await
        .unwrap_or_else(|err| panic!("case `{}`: the bystander failed: {err}", case.name));
    Observed {
        repetitions,
        slowest,
        total,
        bystander_calls,
    }
}

/// Calls the bystander until told to stop, and once more after that;
/// returns how many calls it made. Panics on any wrong answer.
async fn keep_calling_bystander(host: Arc<Host>, stop: Arc<AtomicBool>) -> usize {
    let mut calls = 0;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let result = host
            .call_json(BYSTANDER, WAT_GOOD.function, WAT_GOOD.input)
            .await;
        assert!(
            result.as_deref().is_ok_and(|out| out == GOOD_OUTPUT),
            "the bystander plugin failed while a hostile one ran: {}",
            describe(&result)
        );
        calls += 1;
        if stopping {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Runs every case of a table once: what the per-area tests do. The
/// repetitions, and the resource checks around them, run in
/// `repetitions.rs`.
pub async fn check_once(cases: Vec<Case>) {
    assert!(!cases.is_empty());
    for case in &cases {
        check(case, 1).await;
    }
}

/// A result as a short line: outputs can be megabytes.
pub fn describe(result: &Result<Vec<u8>, CallError>) -> String {
    match result {
        Ok(output) if output.len() > 120 => format!(
            "Ok({} bytes, starting {:?})",
            output.len(),
            String::from_utf8_lossy(&output[..120])
        ),
        Ok(output) => format!("Ok({:?})", String::from_utf8_lossy(output)),
        Err(err) => format!("Err({err:?})"),
    }
}

/// How a load must fail.
#[derive(Debug, Clone, Copy)]
pub enum LoadExpect {
    InvalidModule,
    Instantiate,
    /// [`LoadError::ModuleTooLarge`] of this size against `max_module`.
    ModuleTooLarge(u64),
}

/// A module that must not load.
#[derive(Debug, Clone)]
pub struct LoadCase {
    pub name: &'static str,
    pub plugin: PluginConfig,
    pub expect: LoadExpect,
    /// Loading must fail within this, plus [`SLACK`].
    pub within: Duration,
    pub cost: Cost,
}

/// Loads `case` `repetitions` times, asserting the error and its time.
pub fn check_load(case: &LoadCase, repetitions: usize) -> Observed {
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for repetition in 0..repetitions {
        let config = HostConfig::new(BTreeMap::from([(HOSTILE.to_string(), case.plugin.clone())]));
        let before = Instant::now();
        let result = Host::new(config);
        let took = before.elapsed();
        let name = case.name;
        let err = match result {
            Ok(_) => panic!("case `{name}`, repetition {repetition}: the module loaded"),
            Err(err) => err,
        };
        let accepted = match case.expect {
            LoadExpect::InvalidModule => matches!(err, LoadError::InvalidModule { .. }),
            LoadExpect::Instantiate => matches!(err, LoadError::Instantiate { .. }),
            LoadExpect::ModuleTooLarge(want) => matches!(
                err,
                LoadError::ModuleTooLarge { size, limit, .. }
                    if size == want && limit == case.plugin.limits.max_module
            ),
        };
        assert!(
            accepted,
            "case `{name}`, repetition {repetition}: expected {:?}, got {err:?}",
            case.expect
        );
        assert!(
            took <= case.within + SLACK,
            "case `{name}`, repetition {repetition}: took {took:?}, over its bound of {:?} (+{SLACK:?})",
            case.within
        );
        slowest = slowest.max(took);
    }
    Observed {
        repetitions,
        slowest,
        total: started.elapsed(),
        bystander_calls: 0,
    }
}
