// A CommonJS-style plugin: exports assigned to `module.exports`.

function greet() {
  const { name } = Host.input(Shape.object({ name: Shape.string() }));
  return { greeting: `Hello from CommonJS, ${name}!` };
}

module.exports = { greet };
