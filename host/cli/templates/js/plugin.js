// The `{{name}}` polyplug plugin: each exported function is one plugin
// function. The globals (Host, Config, Http, Shape, PluginError) come from
// the polyplug JS SDK: .polyplug/sdk/js/README.md. tests/vectors/<function>/
// holds the cases `just test` checks.

// {"name": "Ada"} -> {"greeting": "Hello, Ada!"}. An input without a string
// `name` fails with `invalid_input`.
export function greet() {
  const { name } = Host.input(Shape.object({ name: Shape.string() }));
  return { greeting: `Hello, ${name}!` };
}
