/**
 * A process's /proc/<pid>/stat, read past its command name: that field (the second) is in
 * parentheses and may itself hold spaces and parentheses, so the fields are counted from the last
 * ')'. Shared by the tests' process checks and the bench's CPU counts.
 */
import * as fs from "node:fs";

/**
 * The stat fields from the third (the state: R, S, D, Z, ...) on, so field n of proc(5) is at
 * index n - 3; undefined when there is no such process.
 */
export function procStatFields(pid: number | string): string[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}
