/*
 * Consult.java — the consultation example of consult.c, in Java (the
 * org.cascade binding over JNA, client-sdk/java): how a hospital
 * integration engine would send a consultation.
 *
 *   java -cp cascade.jar:/usr/share/java/jna.jar:. Consult expert -u URL -a ADDR -s SECRET
 *       [-c CA] [-S STATEDIR] [-n N] [-T SECONDS]
 *     answers each "consult.request" with a "consult.answer" (JSON that
 *     echoes the case id), prints "case CASE from SRC" for each; stops after
 *     N requests or SECONDS.
 *
 *   java ... Consult clinic -u URL -a ADDR -s SECRET -t EXPERT [-c CA] [-S STATEDIR]
 *       [-n N] [-p K] [-w SECONDS]
 *     sends N requests, K at a time, waits for each answer (at most -w
 *     SECONDS, default 30) and ends with "sent N answered N lost N late N";
 *     exits 0 only when every case was answered in time, with its own case id.
 *
 * JSON is built and read by hand to keep the example free of a JSON library.
 */
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.cascade.CascadeException;
import org.cascade.Client;
import org.cascade.Err;
import org.cascade.Packet;

public final class Consult {
	private static final Pattern CASE = Pattern.compile("\"case\"\\s*:\\s*\"([^\"]*)\"");

	static String caseOf(String json) {
		Matcher m = CASE.matcher(json);
		return m.find() ? m.group(1) : "?";
	}

	public static void main(String[] argv) throws Exception {
		if (argv.length < 1 || !(argv[0].equals("expert") || argv[0].equals("clinic")))
			usage();
		Map<String, String> o = new HashMap<>();
		for (int i = 1; i < argv.length; i++) {
			if (!argv[i].startsWith("-") || i + 1 >= argv.length)
				usage();
			o.put(argv[i], argv[++i]);
		}
		if (!o.containsKey("-u") || !o.containsKey("-a") || !o.containsKey("-s"))
			usage();
		System.exit(argv[0].equals("expert") ? expert(o) : clinic(o));
	}

	static void usage() {
		System.err.println("usage: Consult expert|clinic -u URL -a ADDR -s SECRET [-t EXPERT] [-c CA] [-S STATEDIR] [-n N] [-p K] [-w S] [-T S]");
		System.exit(2);
	}

	static Client.Builder builder(Map<String, String> o) {
		Client.Builder b = Client.builder(o.get("-u"), o.get("-a"), o.get("-s"));
		if (o.containsKey("-c"))
			b.caFile(o.get("-c"));
		if (o.containsKey("-S"))
			b.stateDir(o.get("-S"));
		return b;
	}

	static int expert(Map<String, String> o) throws InterruptedException {
		int n = Integer.parseInt(o.getOrDefault("-n", "0"));
		double t = Double.parseDouble(o.getOrDefault("-T", "0"));
		String me = o.get("-a");
		Semaphore answered = new Semaphore(0);
		try (Client c = builder(o).onPacket((client, p) -> {
			if (p.isNotice() || !p.command.equals("consult.request"))
				return;
			String id = caseOf(p.payloadText());
			client.reply(p, "consult.answer", "{\"case\":\"" + id + "\",\"expert\":\"" + me
			    + "\",\"urgency\":\"routine\",\"opinion\":\"Seen from Java: please send the vital signs.\"}");
			System.out.println("case " + id + " from " + p.src);
			System.out.flush();
			answered.release();
		}).open()) {
			long deadline = t > 0 ? System.nanoTime() + (long)(t * 1e9) : Long.MAX_VALUE;
			int got = 0;
			while (n == 0 || got < n) {
				long left = deadline - System.nanoTime();
				if (left <= 0 || !answered.tryAcquire(Math.min(left, 3_600_000_000_000L), TimeUnit.NANOSECONDS))
					break;
				got++;
			}
			// the last answers may still be in the memory outbox: close() would drop them
			c.flush(10000);
			System.out.println("answered " + got);
		}
		return 0;
	}

	static int clinic(Map<String, String> o) throws InterruptedException {
		String expert = o.get("-t");
		if (expert == null)
			usage();
		int n = Integer.parseInt(o.getOrDefault("-n", "1"));
		int k = Integer.parseInt(o.getOrDefault("-p", "1"));
		double w = Double.parseDouble(o.getOrDefault("-w", "30"));
		String prefix = new SimpleDateFormat("'J'HHmmss").format(new Date());
		AtomicInteger late = new AtomicInteger();
		Semaphore window = new Semaphore(k);
		int answered = 0, lost = 0;
		try (Client c = builder(o).timeoutMs((int)(w * 1000)).onPacket((client, p) -> {
			if ((p.flags & Err.FLAG_LATE) != 0)
				late.incrementAndGet();
		}).open()) {
			List<String> cases = new ArrayList<>();
			List<Client.Request> reqs = new ArrayList<>();
			for (int i = 1; i <= n; i++) {
				String id = String.format("%s-%04d", prefix, i);
				window.acquire();
				Client.Request r = c.request(expert, "consult.request", ("{\"case\":\"" + id + "\",\"clinic\":\""
				    + o.get("-a") + "\",\"patient\":{\"age\":60,\"sex\":\"F\",\"complaint\":\"chest pain\"}}")
				    .getBytes(java.nio.charset.StandardCharsets.UTF_8), 0);
				r.whenComplete((p, e) -> window.release());
				cases.add(id);
				reqs.add(r);
			}
			for (int i = 0; i < n; i++) {
				try {
					Packet p = reqs.get(i).get((long)(w * 1000) + 5000, TimeUnit.MILLISECONDS);
					String got = caseOf(p.payloadText());
					if (got.equals(cases.get(i))) {
						answered++;
						System.out.println(cases.get(i) + " answered by " + p.src);
					} else {
						lost++;
						System.err.println(cases.get(i) + ": the answer is for case " + got);
					}
				} catch (java.util.concurrent.ExecutionException e) {
					lost++;
					System.err.println("Consult: case " + cases.get(i) + ": " + e.getCause().getMessage());
				} catch (java.util.concurrent.TimeoutException e) {
					lost++;
					System.err.println("Consult: case " + cases.get(i) + ": no outcome");
				}
			}
		} catch (CascadeException e) {
			System.err.println("Consult: " + e.getMessage());
			return 1;
		}
		System.out.println("sent " + n + " answered " + answered + " lost " + lost + " late " + late.get());
		return answered == n ? 0 : 1;
	}
}
