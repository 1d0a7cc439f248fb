/** A contract error: `code` is for programs to branch on, `message` for people. */
export class Failure {
  constructor(
    public readonly code: string,
    public readonly message: string,
  ) {}
}

/**
 * The outcome of a step that can fail with a contract error.
 *
 * AssemblyScript has no exceptions, so a failure travels back as a value.
 * `T` must be a reference type (a class, string or array).
 */
export class Result<T> {
  constructor(
    private readonly _value: T | null,
    public readonly failure: Failure | null,
  ) {}

  static ok<T>(value: T): Result<T> {
    return new Result<T>(value, null);
  }

  static err<T>(code: string, message: string): Result<T> {
    return new Result<T>(null, new Failure(code, message));
  }

  get isOk(): bool {
    return this.failure == null;
  }

  /** The success value; aborts (a `panic` error) when called on a failure. */
  get value(): T {
    assert(this.failure == null, "Result.value read on a failure");
    return this._value!;
  }

  /** The same failure, retyped for a caller that returns another `Result`. */
  forward<U>(): Result<U> {
    assert(this.failure != null, "Result.forward called on a success");
    return new Result<U>(null, this.failure);
  }
}
