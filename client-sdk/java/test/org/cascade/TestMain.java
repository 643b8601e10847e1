package org.cascade;

import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs the JUnit 4 tests named on the command line and prints one line per
 * test, "PASS name" or "FAIL name: why", for tests/integration/bindings.sh
 * to count; exits 0 only when all passed.
 */
public final class TestMain {
	public static void main(String[] args) throws Exception {
		JUnitCore core = new JUnitCore();
		core.addListener(new RunListener() {
			private boolean failed;
			@Override public void testStarted(Description d) { failed = false; }
			@Override public void testFailure(Failure f) {
				failed = true;
				System.out.println("FAIL " + f.getDescription().getMethodName() + ": " + f.getMessage());
				System.out.println(f.getTrace());
			}
			@Override public void testFinished(Description d) {
				if (!failed)
					System.out.println("PASS " + d.getMethodName());
			}
		});
		Class<?>[] classes = new Class<?>[args.length];
		for (int i = 0; i < args.length; i++)
			classes[i] = Class.forName(args[i]);
		Result r = core.run(classes);
		System.out.println("junit: " + r.getRunCount() + " run, " + r.getFailureCount() + " failed");
		System.exit(r.wasSuccessful() ? 0 : 1);
	}
}
