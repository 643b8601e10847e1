package org.cascade;

/** enum cascade_err, and the other constants of cascade.h. */
public final class Err {
	private Err() {}
	public static final int OK = 0, EINVAL = -1, ENOMEM = -2, EADDRESS = -3, EQUEUE_FULL = -4,
	    ETIMEDOUT = -5, ECLOSED = -6, ESECRET = -7, EAUTH = -8, ECARRIER = -9, ESTATE = -10,
	    ETOOBIG = -11, EINTERNAL = -12, ECALLBACK = -13, ENOTFOUND = -14, EUNDELIVERABLE = -15,
	    EEXPIRED = -16, EREJECTED = -17, ECANCELLED = -18, EBUSY = -19;
	private static final String[] NAMES = { "OK", "EINVAL", "ENOMEM", "EADDRESS", "EQUEUE_FULL",
	    "ETIMEDOUT", "ECLOSED", "ESECRET", "EAUTH", "ECARRIER", "ESTATE", "ETOOBIG", "EINTERNAL",
	    "ECALLBACK", "ENOTFOUND", "EUNDELIVERABLE", "EEXPIRED", "EREJECTED", "ECANCELLED",
	    "EBUSY" };

	/** "ETIMEDOUT" for -5; "E" and the number for a code this binding does not know. */
	public static String name(int code) {
		return code <= 0 && -code < NAMES.length ? NAMES[-code] : "E" + code;
	}

	/** CASCADE_FLAG_*. */
	public static final int FLAG_RECEIPT = 0x01, FLAG_NO_TTL = 0x02, FLAG_DOWN = 0x04,
	    FLAG_URGENT = 0x08, FLAG_NOTIFY = 0x10, FLAG_LATE = 0x20, FLAG_REDELIVERY = 0x40;
	/** enum cascade_kind. */
	public static final int KIND_DATA = 0, KIND_NOTICE = 1;
	/** enum cascade_notice. */
	public static final int NOTICE_NONE = 0, NOTICE_DELIVERED = 1, NOTICE_EXPIRED = 2,
	    NOTICE_UNDELIVERABLE = 3, NOTICE_REJECTED = 4, NOTICE_CANCELLED = 5,
	    NOTICE_CANCEL_TOO_LATE = 6;
	/** enum cascade_state. */
	public static final int STATE_CONNECTING = 1, STATE_UP = 2, STATE_DOWN = 3,
	    STATE_TAKEN_OVER = 4, STATE_REFUSED = 5, STATE_CLOSED = 6, STATE_HELD = 7,
	    STATE_NEW_SESSION = 8, STATE_UNTRUSTED = 9;
	/** enum cascade_log_level. */
	public static final int LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3;
	/** enum cascade_carrier. */
	public static final int CARRIER_AUTO = 0, CARRIER_TCP = 1, CARRIER_HTTP = 2;
}
