// asc 0.28 resolves a package import to the package's root `index.ts`.
export * from "./assembly/index";
