package org.cascade;

/**
 * A libcascade call failed: {@link #code()} is the negative enum cascade_err
 * value (see {@link Err}), {@link #text()} its cascade_strerror() text. A
 * failed request also carries the notice that ended it, if any.
 */
public class CascadeException extends RuntimeException {
	private static final long serialVersionUID = 1L;
	private final int code;
	private final String text;
	private final transient Packet packet;

	public CascadeException(int code, String what) { this(code, what, null); }

	public CascadeException(int code, String what, Packet packet) {
		super(what == null || what.isEmpty() ? strerror(code) : what + ": " + strerror(code));
		this.code = code;
		this.text = strerror(code);
		this.packet = packet;
	}

	private static String strerror(int code) { return CascadeLibrary.C.cascade_strerror(code); }

	/** The enum cascade_err code (negative). */
	public int code() { return code; }
	/** The code's name, e.g. "ETIMEDOUT". */
	public String codeName() { return Err.name(code); }
	/** cascade_strerror(code). */
	public String text() { return text; }
	/** The notice that ended a request (undeliverable, expired...), or null. */
	public Packet packet() { return packet; }

	static void check(int rc, String what) {
		if (rc != 0)
			throw new CascadeException(rc, what);
	}
}
