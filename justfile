# polyplug: `just demo` to see it work, `just test` to check it all.
# Every recipe prints what it is doing; the first run installs what is missing.

set shell := ["bash", "-euo", "pipefail", "-c"]

guests_out := justfile_directory() / "target/guests"
toolchain := `sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml`

# List the recipes.
default:
    @just --list --unsorted

# Install what building needs: the pinned Rust toolchain with wasm targets, npm packages, Go modules.
setup:
    @echo "==> rust {{toolchain}} with wasm targets (rust-toolchain.toml)"
    rustup toolchain install {{toolchain}} --profile minimal -c rustfmt,clippy -t wasm32-unknown-unknown,wasm32-wasip1
    @echo "==> npm packages for the AssemblyScript guest"
    cd guests/assemblyscript && if [ ! package-lock.json -ot node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; else echo "up to date"; fi
    @echo "==> Go modules for the Go guest"
    cd guests/go && go mod download
    @echo "==> setup done"

# Build every reference guest into target/guests/.
build-guests: setup build-guest-rust build-guest-go build-guest-as
    @ls -l {{guests_out}}/*.wasm | awk '{printf "    %-60s %8d bytes\n", $9, $5}'

# Build the Rust guest (wasm32-unknown-unknown).
build-guest-rust:
    @echo "==> building the Rust guest"
    mkdir -p {{guests_out}}
    cd guests/rust && cargo build --release --locked
    cp guests/rust/target/wasm32-unknown-unknown/release/polyplug_reference_rust.wasm {{guests_out}}/reference-rust.wasm

# Build the Go guest: TinyGo when it is on PATH, else standard Go for wasip1.
build-guest-go:
    @echo "==> building the Go guest ($(command -v tinygo >/dev/null && echo tinygo || go version))"
    mkdir -p {{guests_out}}
    cd guests/go && if command -v tinygo >/dev/null; then \
        tinygo build -target wasip1 -buildmode=c-shared -o {{guests_out}}/reference-go.wasm . ; \
    else \
        GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o {{guests_out}}/reference-go.wasm . ; \
    fi

# Build the AssemblyScript guest.
build-guest-as:
    @echo "==> building the AssemblyScript guest"
    mkdir -p {{guests_out}}
    cd guests/assemblyscript && npm run --silent build

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

# Build the guests, load examples/polyplug.toml and call every sample plugin in every language.
demo: build-guests
    @echo "==> running the demo"
    cargo run --locked --quiet -p polyplug-examples --bin demo

# Serve examples/polyplug.toml over HTTP on 127.0.0.1:8080 (Ctrl-C stops it gracefully).
serve: build-guests
    cargo run --locked --quiet -p polyplug -- --config examples/polyplug.toml serve

# Call one plugin function from examples/polyplug.toml, e.g. `just call reference_go greet '{"name":"Ada"}'`.
call plugin function input: build
    cargo run --locked --quiet -p polyplug -- --config examples/polyplug.toml call {{plugin}} {{function}} '{{input}}'

# Check formatting and lints (what CI enforces).
lint:
    @echo "==> rustfmt"
    cargo fmt --all --check
    cd guests/rust && cargo fmt --check
    cd sdk/rust && cargo fmt --check
    @echo "==> clippy"
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cd guests/rust && cargo clippy --release --locked -- -D warnings
    @echo "==> go vet"
    cd sdk/go && go vet ./...
    cd guests/go && GOOS=wasip1 GOARCH=wasm go vet ./...

# Remove all build output (host, guests, npm packages).
clean:
    cargo clean
    cd guests/rust && cargo clean
    cd sdk/rust && cargo clean
    rm -rf guests/assemblyscript/node_modules
