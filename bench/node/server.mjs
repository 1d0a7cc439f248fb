// The Node.js row of `just bench`: what a user would build instead of
// `polyplug serve`. One process, one plugin instance, plain `node:http`.
//
//   node server.mjs PLUGIN.wasm PORT     (PORT 0 picks a free one)
//
// `POST /v1/plugins/p/greet` (polyplug's path) calls `greet` with the body
// as input and answers 200 with the output as an `application/json` body.
// No timeout and no fuel: the SDK offers neither on the main thread. The
// plugin's memory is reset after every call. Prints the bound port on
// stdout once it listens.

import http from "node:http";
import createPlugin from "@extism/extism";

const [wasm, port = "0"] = process.argv.slice(2);
if (!wasm) {
  console.error("usage: node server.mjs PLUGIN.wasm PORT");
  process.exit(2);
}

const plugin = await createPlugin({ wasm: [{ path: wasm }] }, { useWasi: false });

// A call and its reset must not interleave with another request's call: a
// reset drops every block of the plugin's memory, including an output not
// read yet. Calls run one at a time in arrival order, as on one instance
// they do anyway.
let queue = Promise.resolve();

function call(input) {
  const result = queue.then(async () => {
    const output = await plugin.call("greet", input);
    // The SDK's blocks are ArrayBuffers of their own; reset drops them
    // from the plugin, so the bytes stay readable after it.
    const bytes = output === null ? new Uint8Array() : output.bytes();
    await plugin.reset();
    return bytes;
  });
  queue = result.catch(() => {});
  return result;
}

const server = http.createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/v1/plugins/p/greet") {
    response.writeHead(404).end();
    return;
  }
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", async () => {
    // A copy with a buffer of its own: @extism/extism 1.0.3 hands the
    // plugin a Uint8Array's whole underlying ArrayBuffer, and a small
    // Node Buffer is a slice of a shared 8 KiB pool.
    const input = new Uint8Array(Buffer.concat(chunks));
    try {
      const output = await call(input);
      response.writeHead(200, {
        "content-type": "application/json",
        "content-length": output.length,
      });
      response.end(output);
    } catch (error) {
      response.writeHead(500, { "content-type": "text/plain" }).end(`${error.message}\n`);
    }
  });
});

server.listen(Number(port), "127.0.0.1", () => {
  console.log(server.address().port);
});
