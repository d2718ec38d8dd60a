/** A pattern matching this whole message and nothing else: `toThrow(string)` only checks a substring. */
export function exactly(message: string): RegExp {
  return new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
}
