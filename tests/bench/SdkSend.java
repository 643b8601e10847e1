/*
 * SdkSend: sends per second to custody through the Java binding, as
 * tests/bench/sdk_send.c does in C (make bench-sdk, tests/bench/sdk.sh).
 *
 *   java -cp cascade.jar:jna.jar:. SdkSend URL ADDR SECRET DST N SIZE
 *
 * Prints "java N SECONDS SENDS_PER_S". The JVM's first sends run in the
 * interpreter: a warm-up of N/10 sends (flushed) comes before the clock.
 */
import java.util.Arrays;

import org.cascade.Client;
import org.cascade.Err;

public final class SdkSend {
	public static void main(String[] a) throws Exception {
		int n = Integer.parseInt(a[4]);
		byte[] payload = new byte[Integer.parseInt(a[5])];
		Arrays.fill(payload, (byte)'x');
		try (Client c = Client.builder(a[0], a[1], a[2]).queueMax(10000000).open()) {
			for (int i = 0; i < 1000 && c.state() != Err.STATE_UP; i++)
				Thread.sleep(10);
			for (int i = 0; i < n / 10; i++)
				c.send(a[3], "bench.warmup", payload, 600000, 0);
			c.flush(120000);
			long t0 = System.nanoTime();
			for (int i = 0; i < n; i++)
				c.send(a[3], "bench.data", payload, 600000, 0);
			c.flush(120000);
			double t = (System.nanoTime() - t0) / 1e9;
			System.out.printf("java %d %.3f %.0f%n", n, t, n / t);
		}
	}
}
