# polyplug: `just demo` to see it work, `just test` to check it all.
# Every recipe prints what it is doing; the first run installs what is missing.

set shell := ["bash", "-euo", "pipefail", "-c"]

guests_out := justfile_directory() / "target/guests"
js_compiler := justfile_directory() / "sdk/js/compiler/target/release/polyplug-js"
toolchain := `sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml`
# The host's binaries, as `just build` makes them. Recipes run them from here
# rather than through `cargo run -p <package>`, which settles features for that
# one package and so compiles much of wasmtime's tree a second time (11
# minutes of CPU after `just test`).
host_bin := justfile_directory() / "target/debug"

# List the recipes.
default:
    @just --list --unsorted

# Install what building and testing need: the pinned Rust toolchain with wasm targets, npm packages, Go modules, clang, redis-server.
setup:
    @echo "==> rust {{toolchain}} with wasm targets (rust-toolchain.toml)"
    rustup toolchain install {{toolchain}} --profile minimal -c rustfmt,clippy -t wasm32-unknown-unknown,wasm32-wasip1
    @echo "==> npm packages for the AssemblyScript guest"
    cd guests/assemblyscript && if [ ! package-lock.json -ot node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; else echo "up to date"; fi
    @echo "==> Go modules for the Go guest"
    cd guests/go && go mod download
    @echo "==> clang 14 and wasi-libc from Debian, to compile QuickJS for the JS core"
    if command -v clang-14 >/dev/null && command -v llvm-ar-14 >/dev/null && [ -f /usr/include/wasm32-wasi/stdlib.h ]; then \
        echo "already installed"; \
    else \
        sudo=$([ "$(id -u)" = 0 ] || echo sudo); \
        $sudo apt-get install -y --no-install-recommends clang-14 llvm-14 wasi-libc \
            || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends clang-14 llvm-14 wasi-libc; }; \
    fi
    @echo "==> redis-server from Debian, for the tests of the Redis key-value store (each test starts its own)"
    if command -v redis-server >/dev/null; then \
        echo "already installed: $(redis-server --version)"; \
    else \
        sudo=$([ "$(id -u)" = 0 ] || echo sudo); \
        $sudo apt-get install -y --no-install-recommends redis-server \
            || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends redis-server; }; \
    fi
    @echo "==> setup done"

# Build every reference guest into target/guests/.
build-guests: setup build-guest-rust build-guest-go build-guest-as build-guest-js
    @ls -l {{guests_out}}/*.wasm | awk '{printf "    %-60s %8d bytes\n", $9, $5}'

# Build the Rust guest (wasm32-unknown-unknown).
build-guest-rust:
    @echo "==> building the Rust guest"
    mkdir -p {{guests_out}}
    cd guests/rust && cargo build --release --locked
    cp guests/rust/target/wasm32-unknown-unknown/release/polyplug_reference_rust.wasm {{guests_out}}/reference-rust.wasm

# Build the benchmark's greet guest: the Rust guest's `greet` without the `http_headers` import, so Node.js can load it too.
build-bench-guest:
    @echo "==> building the benchmark's greet guest"
    mkdir -p {{guests_out}}
    cd bench/greet-guest && cargo build --release --locked --target-dir target
    cp bench/greet-guest/target/wasm32-unknown-unknown/release/polyplug_bench_greet.wasm {{guests_out}}/bench-greet.wasm
    python3 bench/greet-guest/check_imports.py {{guests_out}}/bench-greet.wasm

# Build the Go guest (TinyGo when it is on PATH, else standard Go for wasip1) and the Go test plugins.
build-guest-go:
    @echo "==> building the Go guest ($(command -v tinygo >/dev/null && echo tinygo || go version))"
    mkdir -p {{guests_out}}
    cd guests/go && if command -v tinygo >/dev/null; then \
        tinygo build -target wasip1 -buildmode=c-shared -o {{guests_out}}/reference-go.wasm . ; \
    else \
        GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o {{guests_out}}/reference-go.wasm . ; \
    fi
    @echo "==> building the Go test plugins (tests/go)"
    mkdir -p {{guests_out}}/go-tests
    cd tests/go/kv && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o {{guests_out}}/go-tests/kv.wasm .

# Build the AssemblyScript guest and the AssemblyScript test plugins.
build-guest-as:
    @echo "==> building the AssemblyScript guest"
    mkdir -p {{guests_out}}/as-tests
    cd guests/assemblyscript && npm run --silent build
    @echo "==> building the AssemblyScript test plugins (tests/assemblyscript)"
    cd guests/assemblyscript && node_modules/.bin/asc ../../tests/assemblyscript/kv.ts --config asconfig.json --target release --outFile {{guests_out}}/as-tests/kv.wasm

# Build the JS core and the `polyplug-js` compiler, then the JS guest and the JS test plugins.
build-guest-js: build-js-compiler
    @echo "==> compiling the JS guest with polyplug-js"
    mkdir -p {{guests_out}}/js-tests
    {{js_compiler}} build guests/js/src/plugin.js -o {{guests_out}}/reference-js.wasm
    for script in tests/js/*.js; do \
        case "$script" in *.bad.js) continue;; esac; \
        {{js_compiler}} build "$script" -o {{guests_out}}/js-tests/$(basename "$script" .js).wasm; \
    done

# Build `polyplug-js` (sdk/js/compiler) with the JS core (sdk/js/core) inside it.
build-js-compiler:
    @echo "==> building polyplug-js and, through its build.rs, the JS core (QuickJS for wasm32-wasip1; cold: a few minutes on 2 cores)"
    cd sdk/js/compiler && cargo build --release --locked

# Install `polyplug` and `polyplug-js` into ~/.cargo/bin (or `just install /some/root`); they then work from any folder.
install root="":
    @echo "==> cargo install polyplug (host/cli) and polyplug-js (sdk/js/compiler); cold: wasmtime optimised, ~15 minutes on 2 cores"
    cargo install --locked --path host/cli {{ if root != "" { "--root " + root } else { "" } }}
    cargo install --locked --path sdk/js/compiler {{ if root != "" { "--root " + root } else { "" } }}

# Build the host library and the `polyplug` binary.
build:
    @echo "==> building the host (a cold build compiles wasmtime: allow 10+ minutes on 2 cores)"
    cargo build --workspace --locked

# Run every test: host unit tests, config cases, and every vector in every guest language.
test: build-guests
    @echo "==> testing (a cold build compiles wasmtime: allow 10+ minutes on 2 cores)"
    cargo test --workspace --locked
    @echo "==> testing the Rust SDK"
    cd sdk/rust && cargo test --locked
    @echo "==> testing the Go SDK"
    cd sdk/go && go test ./...
    @echo "==> testing polyplug-js"
    cd sdk/js/compiler && cargo test --release --locked
    just check-packages

# Check the SDKs stay publishable: `cargo package` (sdk/rust), `npm pack` (sdk/assemblyscript), the Go module path (sdk/go).
check-packages:
    @echo "==> the SDKs as their registries would take them"
    cd sdk/rust && cargo package --allow-dirty --no-verify --locked --quiet && cargo package --list --allow-dirty --locked | grep -qx README.md
    cd sdk/assemblyscript && npm pack --dry-run --json | python3 -c 'import json,sys; files={f["path"] for f in json.load(sys.stdin)[0]["files"]}; missing={"README.md","index.ts","assembly/index.ts"}-files; sys.exit(f"npm pack leaves out {missing}" if missing else 0)'
    cd sdk/go && test "$(go list -m)" = github.com/polyplug/polyplug/sdk/go

# Build the guests, load examples/polyplug.toml and call every sample plugin in every language.
demo: build-guests build
    @echo "==> running the demo"
    {{host_bin}}/demo
    @echo "==> the library from a current-thread and a multi-threaded runtime (examples/runtimes.rs)"
    {{host_bin}}/runtimes
    @echo "==> a plugin changed while it serves (examples/reload.rs)"
    {{host_bin}}/reload

# Serve examples/polyplug.toml over HTTP on 127.0.0.1:8080 (Ctrl-C stops it gracefully).
serve: build-guests build
    {{host_bin}}/polyplug --config examples/polyplug.toml serve

# Measure polyplug against raw Extism, native code and Node.js; prints one table (release build, a few minutes).
# `just bench http` measures only the HTTP rows, `just bench reload` only live reload (Host::replace), `just bench state` only key-value and pipeline rows, `just bench redis` only Redis store increments.
bench *rows: build-guests build-bench-guest
    @echo "==> npm packages for the Node.js rows (bench/node)"
    if ! command -v npm >/dev/null; then echo "no npm on PATH: the Node.js rows will say they were skipped"; \
    elif [ ! bench/node/package-lock.json -ot bench/node/node_modules/.package-lock.json ]; then cd bench/node && npm ci --no-audit --no-fund; \
    else echo "up to date"; fi
    @echo "==> building the benchmark (release: the first build compiles wasmtime optimised, ~15 minutes on 2 cores)"
    cargo build --release --locked -p polyplug-bench
    @echo "==> measuring with RUST_BACKTRACE=0 (backtraces make every Extism call several times slower)"
    RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0 target/release/polyplug-bench {{rows}}

# Call one plugin function from examples/polyplug.toml, e.g. `just call reference_go greet '{"name":"Ada"}'`; not while `just serve` runs (its embedded store admits one process).
call plugin function input: build
    {{host_bin}}/polyplug --config examples/polyplug.toml call {{plugin}} {{function}} '{{input}}'

# Check formatting and lints (what CI enforces).
lint:
    @echo "==> rustfmt"
    cargo fmt --all --check
    cd guests/rust && cargo fmt --check
    cd bench/greet-guest && cargo fmt --check
    cd sdk/rust && cargo fmt --check
    cd sdk/js/core && cargo fmt --check
    cd sdk/js/compiler && cargo fmt --check
    cd fuzz && cargo fmt --check
    @echo "==> clippy"
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cd guests/rust && cargo clippy --release --locked -- -D warnings
    cd bench/greet-guest && cargo clippy --release --locked --target-dir target -- -D warnings
    cd sdk/js/core && cargo clippy --release --locked -- -D warnings
    cd sdk/js/compiler && cargo clippy --release --locked --all-targets -- -D warnings
    @echo "==> go vet"
    cd sdk/go && go vet ./...
    cd guests/go && GOOS=wasip1 GOARCH=wasm go vet ./...
    cd tests/go/kv && GOOS=wasip1 GOARCH=wasm go vet ./...

# Remove all build output (host, guests, npm packages).
clean:
    cargo clean
    cd guests/rust && cargo clean
    cd bench/greet-guest && cargo clean --target-dir target
    cd sdk/rust && cargo clean
    cd sdk/js/core && cargo clean
    cd sdk/js/compiler && cargo clean
    rm -rf guests/assemblyscript/node_modules bench/node/node_modules

# Soak the hostile-plugin suite: every case 10,000 times in one process, checking memory, files and threads come back (release build, about an hour).
soak: build-guest-rust build-guest-go
    @echo "==> hostile plugins, every case POLYPLUG_SOAK=10000 times (release: the first build compiles wasmtime optimised, ~15 minutes on 2 cores)"
    POLYPLUG_SOAK=10000 cargo test --locked -p polyplug-tests --test all --release hostile -- --test-threads=1

# The nightly that `cargo fuzz` builds with (sanitizers need one); pinned so that fuzz builds repeat.
fuzz_toolchain := "nightly-2026-10-13"

# Install what fuzzing needs: the pinned nightly and cargo-fuzz.
fuzz-setup:
    @echo "==> rust {{fuzz_toolchain}} for the fuzz targets"
    rustup toolchain install {{fuzz_toolchain}} --profile minimal
    @echo "==> cargo-fuzz"
    cargo +{{fuzz_toolchain}} fuzz --version 2>/dev/null || cargo install cargo-fuzz --locked

# Fuzz one target (contract, config, host_pattern, units) or `all` for `seconds` each; what it finds stays in fuzz/corpus/.
fuzz target="contract" seconds="60" *flags: fuzz-setup
    @echo "==> fuzzing (the first build compiles wasmtime with sanitizers: ~15 minutes on 2 cores, more when busy)"
    targets="{{target}}"; [ "$targets" != all ] || targets=$(cargo +{{fuzz_toolchain}} fuzz list); \
    for name in $targets; do \
        echo "==> fuzzing $name for {{seconds}}s from fuzz/seeds/$name and fuzz/corpus/$name"; \
        mkdir -p fuzz/corpus/$name; \
        cargo +{{fuzz_toolchain}} fuzz run $name fuzz/corpus/$name fuzz/seeds/$name -- \
            -max_total_time={{seconds}} -timeout=10 {{flags}}; \
    done

# Every fuzz target for `seconds` each, one process at a time and quietly (CI); the first crash fails it with its input.
fuzz-ci seconds="30": (fuzz "all" seconds "-verbosity=0" "-print_funcs=0" "-print_final_stats=1")
