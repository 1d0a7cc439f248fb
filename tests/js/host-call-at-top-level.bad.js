// Config exists only during a call; this runs at build time.
const rules = Config.get("rules");

export function greet() {
  return { rules };
}
