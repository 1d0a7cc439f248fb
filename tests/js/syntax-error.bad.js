export function greet() {
  const name = "unterminated;
  return { name };
}
