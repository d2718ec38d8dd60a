// Lists the project's functions (declarations, function expressions, arrow functions, methods,
// constructors and accessors) longer than a number of lines, longest first, as a Markdown table.
//
// Usage:
//   npx tsx scripts/long-functions.ts            # functions longer than 60 lines
//   npx tsx scripts/long-functions.ts 40         # longer than 40 lines
//   npx tsx scripts/long-functions.ts --rev main # as they are at a commit
//
// The files are the repository's TypeScript sources (`git ls-files '*.ts'`, or those of the
// commit, so node_modules and untracked output stay out). A function's length counts its lines from the first to the last,
// both included; a nested function is listed on its own and also counts inside the one around it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";

export interface LongFunction {
  file: string;
  name: string;
  line: number;
  lines: number;
}

const root = path.resolve(__dirname, "..");

const git = (args: string[]) =>
  execFileSync("git", args, { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });

/** The TypeScript files of the work tree, or of a commit. */
function projectFiles(rev: string | undefined): string[] {
  const listed =
    rev === undefined
      ? git(["ls-files", "-z", "--", "*.ts"])
      : git(["ls-tree", "-r", "-z", "--name-only", rev]);
  return listed
    .split("\0")
    .filter((file) => file.endsWith(".ts") && !file.split("/").includes("node_modules"));
}

/** A file's text in the work tree, or at a commit. */
function fileText(file: string, rev: string | undefined): string {
  return rev === undefined
    ? readFileSync(path.join(root, file), "utf8")
    : git(["show", `${rev}:${file}`]);
}

function isFunction(node: ts.Node): node is ts.SignatureDeclaration & { body?: ts.Node } {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

function propertyName(name: ts.PropertyName | ts.BindingName, source: ts.SourceFile): string {
  return ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name)
    ? name.text
    : name.getText(source);
}

function className(node: ts.Node): string | undefined {
  const parent = node.parent;
  if ((ts.isClassDeclaration(parent) || ts.isClassExpression(parent)) && parent.name) {
    return parent.name.text;
  }
  return undefined;
}

// A readable name: the declared name, the variable or property it is assigned to, or for a
// callback the call it is passed to with its first string argument (`describe("cleanup")`).
function functionName(node: ts.Node, source: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return `${className(node) ?? "<class>"}.constructor`;
  if (
    ts.isMethodDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  ) {
    const owner = className(node);
    const name = propertyName(node.name, source);
    return owner ? `${owner}.${name}` : name;
  }
  if ((ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node)) && node.name) {
    return node.name.text;
  }
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) {
    return propertyName(parent.name, source);
  }
  if (ts.isPropertyDeclaration(parent)) {
    const owner = className(parent);
    const name = propertyName(parent.name, source);
    return owner ? `${owner}.${name}` : name;
  }
  if (ts.isCallExpression(parent)) {
    const callee = parent.expression.getText(source);
    const label = parent.arguments.find(
      (argument) => ts.isStringLiteral(argument) || ts.isNoSubstitutionTemplateLiteral(argument),
    );
    return label
      ? `${callee}(${JSON.stringify((label as ts.StringLiteralLike).text)}) callback`
      : `${callee}(…) callback`;
  }
  if (ts.isReturnStatement(parent)) {
    let outer: ts.Node = parent.parent;
    while (!isFunction(outer) && !ts.isSourceFile(outer)) outer = outer.parent;
    if (isFunction(outer)) return `${functionName(outer, source)} (returned function)`;
  }
  return "<anonymous>";
}

export function longFunctions(
  files: string[],
  minimum: number,
  read: (file: string) => string,
): LongFunction[] {
  const found: LongFunction[] = [];
  for (const file of files) {
    const text = read(file);
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (isFunction(node) && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = end - start + 1;
        if (lines > minimum) {
          found.push({ file, name: functionName(node, source), line: start + 1, lines });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

function main(): void {
  const args = process.argv.slice(2);
  const at = args.indexOf("--rev");
  const rev = at === -1 ? undefined : args.splice(at, 2)[1];
  const minimum = Number(args[0] ?? 60);
  if (!Number.isInteger(minimum) || minimum < 0 || (at !== -1 && rev === undefined)) {
    console.error("usage: npx tsx scripts/long-functions.ts [minimum-lines] [--rev <commit>]");
    process.exit(2);
  }
  const rows = longFunctions(projectFiles(rev), minimum, (file) => fileText(file, rev));
  console.log(
    `Functions longer than ${minimum} lines${rev === undefined ? "" : ` at ${rev}`}: ${rows.length}\n`,
  );
  console.log("| lines | file:line | function |");
  console.log("| ---: | --- | --- |");
  for (const row of rows) {
    console.log(`| ${row.lines} | ${row.file}:${row.line} | ${row.name.replace(/\|/g, "\\|")} |`);
  }
}

if (require.main === module) main();
