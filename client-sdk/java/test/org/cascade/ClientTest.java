package org.cascade;

import static org.junit.Assert.*;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.junit.Test;

/**
 * The Java binding against a real tree that tests/integration/bindings.sh
 * starts: master fj, counties fj-a (clients jalice, jamy) and fj-b (jbob),
 * named by the system properties cascade.test.a, cascade.test.b (urls) and
 * cascade.test.secrets (the directory of CLIENT.secret files).
 */
public class ClientTest {
	static String url(String node) { return need("cascade.test." + node); }
	static String secret(String client) { return need("cascade.test.secrets") + "/" + client + ".secret"; }
	static String need(String p) {
		String v = System.getProperty(p);
		if (v == null)
			throw new IllegalStateException("system property " + p + " is not set: run tests/integration/bindings.sh");
		return v;
	}
	static Client.Builder at(String node, String client) {
		return Client.builder(url(node), "fj-" + node + "/" + client, secret(client));
	}
	static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

	@Test public void versionAndIds() {
		assertEquals(2, Client.version().chars().filter(c -> c == '.').count());
		byte[] id = Client.idParse(Client.idText(Client.idParse("0193f6c2a1b0-00000000000000000001")));
		assertEquals("0193f6c2a1b0-00000000000000000001", Client.idText(id));
		try {
			Client.idParse("not an id");
			fail("parsed");
		} catch (CascadeException e) {
			assertEquals(Err.EINVAL, e.code());
			assertEquals("EINVAL", e.codeName());
		}
	}

	@Test public void badOptionsThrowWithCodeAndText() {
		try {
			Client.builder(url("a"), "not an address!", secret("jalice")).open();
			fail("opened");
		} catch (CascadeException e) {
			assertEquals(Err.EADDRESS, e.code());
			assertTrue(e.getMessage(), e.getMessage().contains("not an address!"));
			assertFalse(e.text().isEmpty());
		}
		try {
			Client.builder(url("a"), "fj-a/jalice", secret("missing")).open();
			fail("opened");
		} catch (CascadeException e) {
			assertEquals(Err.ESECRET, e.code());
		}
	}

	@Test public void requestReplyAcrossTheTree() throws Exception {
		Set<String> threads = Collections.synchronizedSet(new HashSet<>());
		try (Client bob = at("b", "jbob").onPacket((c, p) -> {
			threads.add(Thread.currentThread().getName());
			if (!p.isNotice())
				c.reply(p, "echo.answer", p.payload);
		}).open(); Client alice = at("a", "jalice").onPacket((c, p) -> {}).open()) {
			List<Client.Request> reqs = new ArrayList<>();
			for (int i = 0; i < 20; i++)
				reqs.add(alice.request("fj-b/jbob", "echo.ask", b("case " + i), 15000));
			for (int i = 0; i < 20; i++) {
				Packet a = reqs.get(i).get(20, TimeUnit.SECONDS);
				assertEquals("case " + i, a.payloadText());
				assertArrayEquals(reqs.get(i).id(), a.replyTo);
				assertEquals("fj-b/jbob", a.src);
				assertEquals("fj-b", a.hops.get(0).node);
				assertTrue(a.hops.toString(), a.hops.stream().anyMatch(h -> h.node.equals("fj")));
			}
		}
		assertEquals(Collections.singleton("cascade-sdk"), threads);
	}

	@Test public void sendFlushReceiveExactlyOnce() throws Exception {
		List<String> got = Collections.synchronizedList(new ArrayList<>());
		CountDownLatch all = new CountDownLatch(200);
		try (Client bob = at("b", "jbob").onPacket((c, p) -> {
			if (!p.isNotice()) { got.add(p.payloadText()); all.countDown(); }
		}).open()) {
			try (Client amy = at("a", "jamy").open()) {
				Set<String> ids = new HashSet<>();
				for (int i = 0; i < 200; i++)
					ids.add(Client.idText(amy.send("fj-b/jbob", "t.data", b("" + i), 60000, 0)));
				amy.flush(10000);
				assertEquals(0, amy.pending());
				assertEquals(200, ids.size());
			}
			assertTrue(got.size() + " of 200", all.await(20, TimeUnit.SECONDS));
		}
		List<String> want = new ArrayList<>();
		for (int i = 0; i < 200; i++)
			want.add("" + i);
		assertEquals(want, got);
	}

	@Test public void pauseKeepsPacketsAtTheNodeUntilResume() throws Exception {
		List<String> got = Collections.synchronizedList(new ArrayList<>());
		CountDownLatch first = new CountDownLatch(10), all = new CountDownLatch(20);
		try (Client bob = at("b", "jbob").onPacket((c, p) -> {
			if (!p.isNotice() && p.command.equals("t.paused")) { got.add(p.payloadText()); first.countDown(); all.countDown(); }
		}).open()) {
			try (Client amy = at("a", "jamy").open()) {
				for (int i = 0; i < 10; i++)
					amy.send("fj-b/jbob", "t.paused", b("" + i), 60000, 0);
				amy.flush(10000);
				assertTrue(first.await(20, TimeUnit.SECONDS));
				bob.pause();
				assertTrue(bob.paused());
				for (int i = 10; i < 20; i++)
					amy.send("fj-b/jbob", "t.paused", b("" + i), 60000, 0);
				amy.flush(10000);
				Thread.sleep(2500);
				assertEquals("a paused client received packets", 10, got.size());
				bob.resume();
				assertFalse(bob.paused());
				assertTrue(got.size() + " of 20", all.await(20, TimeUnit.SECONDS));
			}
		}
		List<String> want = new ArrayList<>();
		for (int i = 0; i < 20; i++)
			want.add("" + i);
		assertEquals(want, got);
	}

	@Test public void lastErrorAndUrgentRequest() throws Exception {
		try (Client bob = at("b", "jbob").onPacket((c, p) -> {
			if (!p.isNotice()) c.reply(p, "echo.answer", p.payload);
		}).open(); Client alice = at("a", "jalice").onPacket((c, p) -> {}).open()) {
			assertEquals("", alice.lastError());
			assertTrue(alice.rejected().isEmpty());
			try {
				alice.send("No Such/Address", "x", b("y"));
				fail("a bad address was taken");
			} catch (CascadeException e) {
				assertEquals(Err.EADDRESS, e.code());
			}
			assertTrue(alice.lastError(), alice.lastError().contains("No Such/Address"));
			Client.Request r = alice.request("fj-b/jbob", "echo.ask", b("urgent"), 15000, -1,
			    Err.FLAG_URGENT);
			assertEquals("urgent", r.get(20, TimeUnit.SECONDS).payloadText());
		}
	}

	@Test public void aListenerThatThrowsDoesNotStopTheClient() throws Exception {
		List<String> got = Collections.synchronizedList(new ArrayList<>());
		CountDownLatch after = new CountDownLatch(1);
		try (Client bob = at("b", "jbob").onPacket((c, p) -> {
			if (p.isNotice())
				return;
			got.add(p.payloadText());
			if (p.payloadText().equals("boom"))
				throw new RuntimeException("application bug (expected by the test)");
			after.countDown();
		}).open()) {
			try (Client amy = at("a", "jamy").open()) {
				amy.send("fj-b/jbob", "t.data", "boom");
				amy.send("fj-b/jbob", "t.data", "after");
				amy.flush(10000);
			}
			assertTrue(after.await(20, TimeUnit.SECONDS));
		}
		assertEquals(Arrays.asList("boom", "after"), got);
	}

	@Test public void undeliverableRequestCarriesTheNotice() throws Exception {
		try (Client alice = at("a", "jalice").onPacket((c, p) -> {}).open()) {
			try {
				alice.request("fj-nowhere/x", "x", new byte[0], 15000).get(20, TimeUnit.SECONDS);
				fail("answered");
			} catch (ExecutionException e) {
				CascadeException ce = (CascadeException)e.getCause();
				assertEquals(Err.EUNDELIVERABLE, ce.code());
				assertNotNull(ce.packet());
				assertEquals(Err.NOTICE_UNDELIVERABLE, ce.packet().notice);
			}
		}
	}

	@Test public void flushInsideAListenerIsRefused() throws Exception {
		List<Integer> codes = Collections.synchronizedList(new ArrayList<>());
		CountDownLatch done = new CountDownLatch(1);
		try (Client bob = at("b", "jbob").onPacket((c, p) -> {
			try {
				c.flush(100);
			} catch (CascadeException e) {
				codes.add(e.code());
			}
			done.countDown();
		}).open()) {
			try (Client amy = at("a", "jamy").open()) {
				amy.send("fj-b/jbob", "t.data", "x");
				amy.flush(10000);
			}
			assertTrue(done.await(20, TimeUnit.SECONDS));
		}
		assertEquals(Arrays.asList(Err.ECALLBACK), codes);
	}

	@Test public void closedClientThrows() {
		Client c = at("a", "jamy").open();
		c.close();
		try {
			c.send("fj-b/jbob", "t.data", "x");
			fail("sent");
		} catch (CascadeException e) {
			assertEquals(Err.ECLOSED, e.code());
		}
		c.close();
	}
}
