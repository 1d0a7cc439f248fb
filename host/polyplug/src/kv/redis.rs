//! The Redis backend: every operation is one Lua script that Redis runs
//! atomically (`EVALSHA`, loaded again after `NOSCRIPT`), so versions,
//! increments, compare-and-swaps and quotas are exact however many hosts
//! share the server.
//!
//! Layout, for store `S` and namespace `N` (each written as
//! `<length>.<name>`, so no name can end where another begins, whatever
//! characters it holds):
//!
//! | Redis key | type | what |
//! |---|---|---|
//! | `polyplug:S:version` | string | the store-wide version counter (`INCR`) |
//! | `polyplug:S:N:data` | hash | key → value as compact JSON text |
//! | `polyplug:S:N:versions` | hash | key → version |
//! | `polyplug:S:N:keys` | sorted set | every key, score 0, for `ZRANGEBYLEX` |
//! | `polyplug:S:N:usage` | hash | `bytes`, `keys` the namespace holds |
//!
//! A plugin's key is a hash field or a set member, never part of a Redis
//! key name, so no key can reach outside its namespace whatever bytes it
//! holds; a listing reads one namespace's sorted set, so a prefix scan
//! cannot cross into another namespace. Keys are ordered by bytes in
//! both backends (redb compares `&str`s by bytes too).
//!
//! The client: one multiplexed connection per store and process (the
//! `redis` crate's `MultiplexedConnection` on tokio), shared by every
//! plugin and generation granted the store, made on first use, not at
//! load. Multiplexing pipelines every concurrent operation over that
//! connection, and a script needs no state of its own on a connection
//! (no `MULTI`, no `WATCH`), so a pool (`deadpool-redis`, `bb8-redis`)
//! would add connections without adding throughput to a single-threaded
//! server. `ConnectionManager` was not chosen either: after a failure
//! it reconnects with retries and exponential backoff, and the operations
//! that follow wait for that reconnection, which turns "Redis is down"
//! into a timeout at each plugin's deadline; here a refused connection
//! answers `kv_unavailable` at once and the next operation tries again.
//!
//! Bounds: an operation waits for Redis until the calling plugin's
//! deadline and not after; it runs as a task on the store's own runtime
//! (one thread with an I/O driver, see [`runtime`]) that is cancelled when
//! its caller stops waiting, so abandoned operations leave no task; the
//! connection has at most [`IN_FLIGHT`] requests awaiting Redis; and a
//! connection that failed, or on which an operation waited [`STALLED`] in
//! vain, is dropped and made again by the next operation, one attempt at
//! a time, each bounded by [`CONNECT_TIMEOUT`] and the deadline. (The
//! operations still in flight on a dropped connection keep it until they
//! end, at their own deadlines.)

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script, TlsCertificates, Value};
use tokio::sync::Mutex;

use super::{KvCode, KvError, MAX_COUNTER, Outcome, Quota, Request};
use crate::lane::AbortOnDrop;

/// How long making a connection may take, when the caller's deadline is
/// later.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long an operation waits on a connection before the connection is
/// taken for stalled, and made again by the next operation.
const STALLED: std::time::Duration = std::time::Duration::from_secs(1);

/// Requests one connection has sent and awaits, at most: past that an
/// operation waits for room (until its deadline), so a hung server does
/// not collect an unbounded queue.
const IN_FLIGHT: usize = 1024;

/// The Lua shared by the writing scripts. KEYS: data, versions, keys,
/// usage, version counter. `write(key, value, old, max_bytes, max_keys)`
/// checks the namespace's quotas for replacing `old` (false: none) by
/// `value`, then writes with a new version; it returns the version, or
/// `{'full_keys', keys}` / `{'full_bytes', bytes, new_bytes}`.
const WRITE: &str = r#"
local function write(key, value, old, max_bytes, max_keys)
  local usage = redis.call('HMGET', KEYS[4], 'bytes', 'keys')
  local bytes, keys = tonumber(usage[1]) or 0, tonumber(usage[2]) or 0
  local freed = 0
  if old then freed = #key + #old end
  local new_bytes = bytes - math.min(freed, bytes) + #key + #value
  local new_keys = keys
  if not old then new_keys = keys + 1 end
  if new_keys > max_keys and new_keys > keys then
    return {'full_keys', keys}
  end
  if new_bytes > max_bytes and new_bytes > bytes then
    return {'full_bytes', bytes, new_bytes}
  end
  local version = redis.call('INCR', KEYS[5])
  redis.call('HSET', KEYS[1], key, value)
  redis.call('HSET', KEYS[2], key, string.format('%d', version))
  if not old then redis.call('ZADD', KEYS[3], 0, key) end
  redis.call('HSET', KEYS[4], 'bytes', string.format('%d', new_bytes),
    'keys', string.format('%d', new_keys))
  return version
end
"#;

/// `get`: ARGV key. Returns `{value, version}` or nil.
const GET: &str = r#"
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return false end
return {value, tonumber(redis.call('HGET', KEYS[2], ARGV[1]))}
"#;

/// `set`: ARGV key, value, max bytes, max keys.
const SET: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
return write(ARGV[1], ARGV[2], old, tonumber(ARGV[3]), tonumber(ARGV[4]))
"#;

/// `cas`: ARGV key, value, max bytes, max keys, expected version (decimal
/// text, compared as text: exact for every u64). Returns `{'unchanged',
/// current version}` when the versions differ.
const CAS: &str = r#"
local current = redis.call('HGET', KEYS[2], ARGV[1]) or '0'
if current ~= ARGV[5] then return {'unchanged', tonumber(current)} end
local old = redis.call('HGET', KEYS[1], ARGV[1])
return write(ARGV[1], ARGV[2], old, tonumber(ARGV[3]), tonumber(ARGV[4]))
"#;

/// `increment`: ARGV key, by, max bytes, max keys, the bound. Returns
/// `{version, value as text}`, `{'not_an_integer', value}` or
/// `{'overflow', now}`; a stored value counts as `stored_integer` says.
const INCREMENT: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
local bound = tonumber(ARGV[5])
local now = 0
if old then
  local digits = old
  if string.sub(old, 1, 1) == '-' then digits = string.sub(old, 2) end
  local well_formed = #digits > 0 and #digits <= 16 and string.match(digits, '^%d+$')
    and (digits == '0' or string.sub(digits, 1, 1) ~= '0')
  if not well_formed or math.abs(tonumber(old)) > bound then
    return {'not_an_integer', old}
  end
  now = tonumber(old)
end
local counted = now + tonumber(ARGV[2])
if math.abs(counted) > bound then return {'overflow', string.format('%d', now)} end
local text = string.format('%d', counted)
local written = write(ARGV[1], text, old, tonumber(ARGV[3]), tonumber(ARGV[4]))
if type(written) == 'table' then return written end
return {written, text}
"#;

/// `delete`: ARGV key. Returns 1 when the key existed, else 0.
const DELETE: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local usage = redis.call('HMGET', KEYS[4], 'bytes', 'keys')
local bytes = math.max((tonumber(usage[1]) or 0) - #ARGV[1] - #old, 0)
local keys = math.max((tonumber(usage[2]) or 0) - 1, 0)
redis.call('HSET', KEYS[4], 'bytes', string.format('%d', bytes),
  'keys', string.format('%d', keys))
return 1
"#;

/// `list`: ARGV from, to (`ZRANGEBYLEX` bounds), limit. Returns keys and
/// versions alternating, and a last element 1 when more follow, else 0.
const LIST: &str = r#"
local limit = tonumber(ARGV[3])
local keys = redis.call('ZRANGEBYLEX', KEYS[3], ARGV[1], ARGV[2], 'LIMIT', 0, limit + 1)
local more = 0
if #keys > limit then
  more = 1
  keys[#keys] = nil
end
local out = {}
if #keys > 0 then
  local versions = redis.call('HMGET', KEYS[2], unpack(keys))
  for i, key in ipairs(keys) do
    out[#out + 1] = key
    out[#out + 1] = tonumber(versions[i])
  end
end
out[#out + 1] = more
return out
"#;

/// The scripts, each compiled once per open store (their SHA1s are
/// what `EVALSHA` sends).
struct Scripts {
    get: Script,
    set: Script,
    cas: Script,
    increment: Script,
    delete: Script,
    list: Script,
}

impl Scripts {
    fn new() -> Self {
        let writing = |body: &str| Script::new(&format!("{WRITE}{body}"));
        Self {
            get: Script::new(GET),
            set: writing(SET),
            cas: writing(CAS),
            increment: writing(INCREMENT),
            delete: Script::new(DELETE),
            list: Script::new(LIST),
        }
    }
}

pub(crate) struct Redis {
    client: Client,
    /// Where the server is, for messages: host and port, never the
    /// password.
    address: String,
    /// `polyplug:<store>:`, and the version counter's key.
    prefix: String,
    counter: String,
    scripts: Scripts,
    /// The connection, once made, and how many have been made (so an
    /// operation drops only the connection it failed on).
    connection: Mutex<Option<(u64, MultiplexedConnection)>>,
    made: AtomicU64,
}

/// The runtime every Redis connection and operation of the process runs
/// on: one thread at normal priority with I/O enabled. Calls run on the
/// caller's runtime or on the slow lane (`lane.rs`), neither of which need
/// have an I/O driver, and a connection made on a caller's runtime would
/// die with it.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("polyplug-redis")
            .enable_io()
            .enable_time()
            .build()
            .expect("starting polyplug's Redis runtime")
    })
}

/// A store's name, URL and certificate authorities (PEM).
type StoreKey = (String, String, Option<Vec<u8>>);

/// Redis stores open in this process, shared by every handle that names
/// the same one.
fn open_stores() -> &'static std::sync::Mutex<HashMap<StoreKey, Weak<Redis>>> {
    static OPEN: OnceLock<std::sync::Mutex<HashMap<StoreKey, Weak<Redis>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

/// `name` as `<length>.<name>`: a segment no other name's segment is a
/// prefix of.
fn segment(name: &str) -> String {
    format!("{}.{name}", name.len())
}

impl Redis {
    /// A handle on the store `store` at `url`, shared with every plugin,
    /// generation and host of the process that opens the same store at
    /// the same URL with the same `ca`: one connection per store and
    /// process, kept across reloads. Makes no connection: the first
    /// operation does (a host whose Redis is down still loads, and its
    /// plugins without state serve).
    pub fn open(store: &str, url: &str, ca: Option<&Path>) -> Result<Arc<Redis>, String> {
        crate::config::check_redis_url(url)
            .map_err(|reason| format!("`{}`: {reason}", super::redacted_url(url)))?;
        let pem = match ca {
            None => None,
            Some(ca) => Some(
                std::fs::read(ca)
                    .map_err(|err| format!("cannot read `ca` file `{}`: {err}", ca.display()))?,
            ),
        };
        let key = (store.to_string(), url.to_string(), pem.clone());
        let mut open = open_stores().lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, store| store.strong_count() > 0);
        if let Some(shared) = open.get(&key).and_then(Weak::upgrade) {
            return Ok(shared);
        }
        let client = match pem {
            None => Client::open(url),
            Some(pem) => {
                let certificates = TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                Client::build_with_tls(url, certificates)
            }
        };
        let client = client
            .map_err(|err| format!("`{}` is not a Redis URL: {err}", super::redacted_url(url)))?;
        let address = client.get_connection_info().addr().to_string();
        let prefix = format!("polyplug:{}:", segment(store));
        let redis = Arc::new(Redis {
            client,
            address,
            counter: format!("{prefix}version"),
            prefix,
            scripts: Scripts::new(),
            connection: Mutex::new(None),
            made: AtomicU64::new(0),
        });
        open.insert(key, Arc::downgrade(&redis));
        Ok(redis)
    }

    /// The connection to use, made now when there is none.
    async fn connect(&self, deadline: Instant) -> Result<(u64, MultiplexedConnection), KvError> {
        let mut slot = self.connection.lock().await;
        if let Some((id, connection)) = slot.as_ref() {
            return Ok((*id, connection.clone()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(left.min(CONNECT_TIMEOUT)))
            .set_response_timeout(None)
            .set_concurrency_limit(IN_FLIGHT);
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|err| {
                KvError::new(
                    KvCode::Unavailable,
                    format!("cannot reach Redis at `{}`: {err}", self.address),
                )
            })?;
        let id = self.made.fetch_add(1, Ordering::Relaxed) + 1;
        *slot = Some((id, connection.clone()));
        Ok((id, connection))
    }

    /// Drops connection `id` if it is still the one in use, so the next
    /// operation makes a new one.
    async fn forget(&self, id: u64) {
        let mut slot = self.connection.lock().await;
        if slot.as_ref().is_some_and(|(current, _)| *current == id) {
            *slot = None;
        }
    }

    /// Runs one operation in `namespace` on the Redis runtime, waiting
    /// for Redis until `deadline` at most. When the caller stops waiting
    /// (its call abandoned at the deadline), the operation's task is
    /// cancelled with it.
    pub async fn run(
        self: Arc<Self>,
        namespace: Arc<str>,
        request: Request,
        quota: Quota,
        deadline: Instant,
    ) -> Result<Outcome, KvError> {
        let task = runtime()
            .spawn(async move { self.operate(&namespace, request, quota, deadline).await });
        let _abort = AbortOnDrop(task.abort_handle());
        task.await.unwrap_or_else(|err| {
            Err(KvError::new(
                KvCode::Unavailable,
                format!("the Redis operation failed: {err}"),
            ))
        })
    }

    /// Runs one operation, on the Redis runtime.
    async fn operate(
        &self,
        namespace: &str,
        request: Request,
        quota: Quota,
        deadline: Instant,
    ) -> Result<Outcome, KvError> {
        let late = || {
            KvError::new(
                KvCode::Unavailable,
                format!(
                    "Redis at `{}` did not answer before the call's deadline",
                    self.address
                ),
            )
        };
        let at = tokio::time::Instant::from_std(deadline);
        let (id, mut connection) = tokio::time::timeout_at(at, self.connect(deadline))
            .await
            .map_err(|_| late())??;
        let ns = format!("{}{}:", self.prefix, segment(namespace));
        let keys = [
            format!("{ns}data"),
            format!("{ns}versions"),
            format!("{ns}keys"),
            format!("{ns}usage"),
            self.counter.clone(),
        ];
        let operation = self.invoke(&mut connection, &keys, request, quota);
        let sent = Instant::now();
        match tokio::time::timeout_at(at, operation).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(err)) => {
                if err.is_io_error() || err.is_connection_dropped() || err.is_unrecoverable_error()
                {
                    self.forget(id).await;
                }
                Err(KvError::new(
                    KvCode::Unavailable,
                    format!("Redis at `{}` failed: {err}", self.address),
                ))
            }
            Err(_) => {
                // A server that hangs or a connection that went silent:
                // the next operation starts on a new one. A call that
                // came with little time left says nothing of the
                // connection, and does not cost one.
                if sent.elapsed() >= STALLED {
                    self.forget(id).await;
                }
                Err(late())
            }
        }
    }

    /// Sends `request`'s script and reads its reply. The outer error is
    /// Redis's; the inner result is the operation's.
    async fn invoke(
        &self,
        connection: &mut MultiplexedConnection,
        keys: &[String; 5],
        request: Request,
        quota: Quota,
    ) -> redis::RedisResult<Result<Outcome, KvError>> {
        let scripts = &self.scripts;
        let reply: Value = match &request {
            Request::Get { key } => {
                let mut call = scripts.get.prepare_invoke();
                call.key(keys).arg(key);
                call.invoke_async(connection).await?
            }
            Request::Set { key, value } => {
                let mut call = scripts.set.prepare_invoke();
                call.key(keys).arg(key).arg(value);
                call.arg(quota.bytes).arg(quota.keys);
                call.invoke_async(connection).await?
            }
            Request::Cas {
                key,
                expected,
                value,
            } => {
                let mut call = scripts.cas.prepare_invoke();
                call.key(keys).arg(key).arg(value);
                call.arg(quota.bytes)
                    .arg(quota.keys)
                    .arg(expected.to_string());
                call.invoke_async(connection).await?
            }
            Request::Increment { key, by } => {
                let mut call = scripts.increment.prepare_invoke();
                call.key(keys).arg(key).arg(by.to_string());
                call.arg(quota.bytes).arg(quota.keys).arg(MAX_COUNTER);
                call.invoke_async(connection).await?
            }
            Request::Delete { key } => {
                let mut call = scripts.delete.prepare_invoke();
                call.key(keys).arg(key);
                call.invoke_async(connection).await?
            }
            Request::List {
                prefix,
                cursor,
                limit,
            } => {
                // Keys are UTF-8, which never holds the byte 0xff: every key
                // that starts with `prefix` sorts before `prefix` + 0xff.
                let mut from = [b"[", prefix.as_bytes()].concat();
                if let Some(cursor) = cursor.as_deref().filter(|c| *c >= prefix.as_str()) {
                    from = [b"(", cursor.as_bytes()].concat();
                }
                let to = match prefix.is_empty() {
                    true => b"+".to_vec(),
                    false => [b"(", prefix.as_bytes(), b"\xff"].concat(),
                };
                let mut call = scripts.list.prepare_invoke();
                call.key(keys).arg(from).arg(to).arg(*limit);
                call.invoke_async(connection).await?
            }
        };
        Ok(read(&request, quota, reply))
    }
}

/// A reply that is not what the script returns.
fn garbled(reply: &Value) -> KvError {
    KvError::new(
        KvCode::Unavailable,
        format!("Redis answered `{reply:?}`, which no polyplug script returns"),
    )
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The outcome of `request` from the script's `reply`.
fn read(request: &Request, quota: Quota, reply: Value) -> Result<Outcome, KvError> {
    let bad = || garbled(&reply);
    let items = match &reply {
        Value::Array(items) => items.as_slice(),
        _ => &[],
    };
    // A write the quotas refused, from any writing script.
    if let Some(tag) = items.first().and_then(text) {
        match (tag.as_str(), items.get(1).and_then(number)) {
            ("full_keys", Some(keys)) => return Err(KvError::full_of_keys(keys)),
            ("full_bytes", Some(bytes)) => {
                let new_bytes = items.get(2).and_then(number).ok_or_else(bad)?;
                return Err(KvError::full_of_bytes(bytes, new_bytes, quota.bytes));
            }
            _ => {}
        }
    }
    match request {
        Request::Get { .. } => match &reply {
            Value::Nil => Ok(Outcome::Found(None)),
            _ => match items {
                [value, version] => {
                    let value = text(value).ok_or_else(bad)?;
                    Ok(Outcome::Found(Some((
                        value,
                        number(version).ok_or_else(bad)?,
                    ))))
                }
                _ => Err(bad()),
            },
        },
        Request::Set { .. } => number(&reply).map(Outcome::Written).ok_or_else(bad),
        Request::Cas { .. } => match (number(&reply), items) {
            (Some(version), _) => Ok(Outcome::Swapped {
                swapped: true,
                version,
            }),
            (None, [tag, current]) if text(tag).as_deref() == Some("unchanged") => {
                Ok(Outcome::Swapped {
                    swapped: false,
                    version: number(current).ok_or_else(bad)?,
                })
            }
            _ => Err(bad()),
        },
        Request::Increment { by, .. } => match items {
            [first, second] => match (number(first), text(first).as_deref(), text(second)) {
                (Some(version), _, Some(value)) => Ok(Outcome::Counted {
                    value: value.parse().map_err(|_| bad())?,
                    version,
                }),
                (None, Some("not_an_integer"), Some(value)) => Err(KvError::new(
                    KvCode::NotAnInteger,
                    format!(
                        "the value is `{}`, not an integer within ±(2^53-1)",
                        super::embedded::shorten(&value)
                    ),
                )),
                (None, Some("overflow"), Some(now)) => Err(KvError::new(
                    KvCode::Overflow,
                    format!("{now} + {by} is outside ±(2^53-1)"),
                )),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        },
        Request::Delete { .. } => match number(&reply) {
            Some(deleted) => Ok(Outcome::Deleted(deleted == 1)),
            None => Err(bad()),
        },
        Request::List { .. } => {
            let (more, pairs) = items.split_last().ok_or_else(bad)?;
            if pairs.len() % 2 != 0 {
                return Err(bad());
            }
            let items = pairs
                .chunks(2)
                .map(|pair| Some((text(&pair[0])?, number(&pair[1])?)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(bad)?;
            let cursor = match number(more) {
                Some(1) => items.last().map(|(key, _)| key.clone()),
                Some(0) => None,
                _ => return Err(bad()),
            };
            Ok(Outcome::Listed { items, cursor })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_never_the_start_of_another() {
        // `a:1` and `a` followed by `:1...` would meet without the length.
        assert_ne!(segment("a:1"), segment("a"));
        assert!(!format!("{}x", segment("a")).starts_with(&segment("a:1")));
        assert_eq!(segment("plugin:p"), "8.plugin:p");
    }

    #[test]
    fn a_reply_no_script_gives_is_unavailable_not_a_panic() {
        let quota = Quota { bytes: 1, keys: 1 };
        let get = Request::Get { key: "k".into() };
        for reply in [
            Value::Okay,
            Value::Int(1),
            Value::Array(vec![Value::Int(1)]),
        ] {
            let err = read(&get, quota, reply).unwrap_err();
            assert_eq!(err.code, KvCode::Unavailable);
        }
        let list = Request::List {
            prefix: String::new(),
            cursor: None,
            limit: 1,
        };
        let odd = Value::Array(vec![Value::Int(1), Value::Int(0)]);
        assert_eq!(
            read(&list, quota, odd).unwrap_err().code,
            KvCode::Unavailable
        );
    }
}
