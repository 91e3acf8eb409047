// Peer is an AS2 peer made of BouncyCastle 1.72 (the crypto under OpenAS2
// and Mendelson), for Wharf's interop tests. Run as a single-file program:
//
//   java -cp bcprov.jar:bcpkix.jar:bcutil.jar Peer.java DIR
//
// DIR holds peer.key (PKCS#8 PEM), peer.crt and wharf.crt. It serves HTTP on
// 127.0.0.1 (a free port, printed as "LISTEN <port>" on stdout):
//   POST /as2   receives an AS2 message as a partner would: decrypts
//               (EnvelopedData or AuthEnvelopedData/GCM), verifies Wharf's
//               signature, decompresses (RFC 3274), answers with an MDN
//               signed by the peer. Response headers X-Peer-Found and
//               X-Peer-Payload-SHA256 tell the test what it found.
//   POST /send?url=U&cipher=aes128-gcm|aes256-gcm|aes256-cbc|none&sign=1&compress=1&id=MSGID
//               sends the request body to Wharf at U as an AS2 message built
//               by BouncyCastle (streamed BER where BC streams), verifies the
//               MDN's signature with wharf.crt and its MIC, and answers
//               "disposition=...; mic=match|mismatch|none; signed=true|false".
// The MIME handling is hand-written (no JavaMail): exact bytes in and out.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.*;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.cms.CMSObjectIdentifiers;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.*;
import org.bouncycastle.cms.jcajce.*;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.OutputEncryptor;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

public class Peer {
    static PrivateKey key;
    static X509Certificate cert, wharf;

    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        Path dir = Paths.get(args[0]);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        cert = (X509Certificate) cf.generateCertificate(Files.newInputStream(dir.resolve("peer.crt")));
        wharf = (X509Certificate) cf.generateCertificate(Files.newInputStream(dir.resolve("wharf.crt")));
        String pem = Files.readString(dir.resolve("peer.key")).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
        HttpServer srv = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        srv.createContext("/as2", ex -> handle(ex, true));
        srv.createContext("/send", ex -> handle(ex, false));
        srv.start();
        System.out.println("LISTEN " + srv.getAddress().getPort());
        System.out.flush();
        // Stop when the test closes stdin.
        while (System.in.read() >= 0) { }
        srv.stop(0);
        System.exit(0);
    }

    static void handle(HttpExchange ex, boolean receive) {
        try {
            byte[] body = ex.getRequestBody().readAllBytes();
            if (receive) receive(ex, body); else send(ex, body);
        } catch (Throwable t) {
            t.printStackTrace();
            try {
                byte[] msg = ("peer error: " + t).getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(500, msg.length);
                ex.getResponseBody().write(msg);
            } catch (IOException ignored) { }
        } finally {
            ex.close();
        }
    }

    // ---- MIME, exact bytes

    static class Entity {
        Map<String, String> headers = new LinkedHashMap<>();
        byte[] raw, body;
        String get(String k) { return headers.getOrDefault(k.toLowerCase(Locale.ROOT), ""); }
    }

    static int indexOf(byte[] b, byte[] pat, int from) {
        outer:
        for (int i = from; i <= b.length - pat.length; i++) {
            for (int j = 0; j < pat.length; j++) if (b[i + j] != pat[j]) continue outer;
            return i;
        }
        return -1;
    }

    static Entity parse(byte[] raw) {
        Entity e = new Entity();
        e.raw = raw;
        int end = indexOf(raw, "\r\n\r\n".getBytes(), 0), skip = 4;
        int lf = indexOf(raw, "\n\n".getBytes(), 0);
        if (end < 0 || (lf >= 0 && lf < end)) { end = lf; skip = 2; }
        String head = new String(raw, 0, end, StandardCharsets.ISO_8859_1).replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ");
        for (String line : head.split("\n")) {
            int c = line.indexOf(':');
            if (c > 0) e.headers.put(line.substring(0, c).trim().toLowerCase(Locale.ROOT), line.substring(c + 1).trim());
        }
        e.body = Arrays.copyOfRange(raw, end + skip, raw.length);
        return e;
    }

    static String param(String ct, String name) {
        for (String p : ct.split(";")) {
            String[] kv = p.trim().split("=", 2);
            if (kv.length == 2 && kv[0].trim().equalsIgnoreCase(name)) return kv[1].trim().replaceAll("^\"|\"$", "");
        }
        return "";
    }

    // parts splits a multipart body: the line end before a delimiter belongs to it (RFC 2046).
    static List<byte[]> parts(byte[] body, String boundary) {
        byte[] delim = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        List<byte[]> out = new ArrayList<>();
        int start = -1, pos = 0;
        while (true) {
            int i = indexOf(body, delim, pos);
            if (i < 0) break;
            if (i > 0 && body[i - 1] != '\n') { pos = i + 1; continue; }
            if (start >= 0) {
                int end = i;
                if (end > 0 && body[end - 1] == '\n') end--;
                if (end > 0 && body[end - 1] == '\r') end--;
                out.add(Arrays.copyOfRange(body, start, end));
            }
            int after = i + delim.length;
            if (after + 1 < body.length && body[after] == '-' && body[after + 1] == '-') break;
            int eol = indexOf(body, "\n".getBytes(), after);
            start = eol + 1;
            pos = start;
        }
        return out;
    }

    static byte[] decoded(Entity e) {
        if (e.get("content-transfer-encoding").equalsIgnoreCase("base64"))
            return Base64.getMimeDecoder().decode(e.body);
        return e.body;
    }

    static byte[] concat(byte[]... bs) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] b : bs) o.writeBytes(b);
        return o.toByteArray();
    }

    static byte[] ascii(String s) { return s.getBytes(StandardCharsets.ISO_8859_1); }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }

    static String mic(byte[] b) throws Exception {
        return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256").digest(b)) + ", sha-256";
    }

    // ---- CMS

    static byte[] signDetached(byte[] content) throws Exception {
        CMSSignedDataGenerator g = new CMSSignedDataGenerator();
        g.addSignerInfoGenerator(new JcaSimpleSignerInfoGeneratorBuilder().setProvider("BC").build("SHA256withRSA", key, cert));
        g.addCertificates(new JcaCertStore(List.of(cert)));
        return g.generate(new CMSProcessableByteArray(content), false).getEncoded();
    }

    // multipartSigned returns {content-type, body}.
    static String[] multipartSigned(byte[] entity, byte[][] bodyOut) throws Exception {
        String b = "----=_bc_" + Long.toHexString(new SecureRandom().nextLong());
        String sig = Base64.getMimeEncoder(76, "\r\n".getBytes()).encodeToString(signDetached(entity));
        bodyOut[0] = concat(ascii("--" + b + "\r\n"), entity, ascii("\r\n--" + b + "\r\n"
                + "Content-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n"
                + "Content-Disposition: attachment; filename=smime.p7s\r\n\r\n" + sig + "\r\n--" + b + "--\r\n"));
        return new String[] {"multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"" + b + "\""};
    }

    static boolean verify(byte[] content, byte[] sig, X509Certificate signer) throws Exception {
        CMSSignedData sd = new CMSSignedData(new CMSProcessableByteArray(content), sig);
        for (SignerInformation si : sd.getSignerInfos().getSigners()) {
            if (si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(signer))) return true;
        }
        return false;
    }

    static ASN1ObjectIdentifier contentType(byte[] der) {
        return ContentInfo.getInstance(ASN1Sequence.getInstance(der)).getContentType();
    }

    // ---- receiving (Wharf -> BC)

    static void receive(HttpExchange ex, byte[] body) throws Exception {
        String msgID = ex.getRequestHeaders().getFirst("Message-ID");
        List<String> found = new ArrayList<>();
        Entity e = new Entity();
        e.headers.put("content-type", ex.getRequestHeaders().getFirst("Content-Type"));
        String cte = ex.getRequestHeaders().getFirst("Content-Transfer-Encoding");
        if (cte != null) e.headers.put("content-transfer-encoding", cte);
        e.body = body;
        String micValue = null;
        for (int depth = 0; depth < 6; depth++) {
            String ct = e.get("content-type").toLowerCase(Locale.ROOT);
            if (ct.startsWith("application/pkcs7-mime") || ct.startsWith("application/x-pkcs7-mime")) {
                byte[] der = decoded(e);
                ASN1ObjectIdentifier t = contentType(der);
                if (t.equals(CMSObjectIdentifiers.envelopedData)) {
                    CMSEnvelopedData ed = new CMSEnvelopedData(der);
                    RecipientInformation ri = ed.getRecipientInfos().getRecipients().iterator().next();
                    e = parse(ri.getContent(new JceKeyTransEnvelopedRecipient(key).setProvider("BC")));
                    found.add("decrypted " + ed.getEncryptionAlgOID());
                } else if (t.equals(CMSObjectIdentifiers.authEnvelopedData)) {
                    CMSAuthEnvelopedData ad = new CMSAuthEnvelopedData(der);
                    RecipientInformation ri = ad.getRecipientInfos().getRecipients().iterator().next();
                    e = parse(ri.getContent(new JceKeyTransAuthEnvelopedRecipient(key).setProvider("BC")));
                    found.add("decrypted gcm");
                } else if (t.equals(CMSObjectIdentifiers.compressedData)) {
                    if (micValue == null) micValue = mic(e.raw != null ? e.raw : body);
                    e = parse(new CMSCompressedData(der).getContent(new ZlibExpanderProvider()));
                    found.add("decompressed");
                } else {
                    throw new Exception("unexpected CMS content " + t);
                }
                continue;
            }
            if (ct.startsWith("multipart/signed")) {
                List<byte[]> ps = parts(e.body, param(e.get("content-type"), "boundary"));
                byte[] sig = decoded(parse(ps.get(1)));
                if (!verify(ps.get(0), sig, wharf)) throw new Exception("signature does not verify");
                found.add("signature verified");
                micValue = mic(ps.get(0));
                e = parse(ps.get(0));
                continue;
            }
            break;
        }
        // Unsigned: the MIC covers the entity found after decrypting.
        if (micValue == null && e.raw != null) micValue = mic(e.raw);
        byte[] payload = decoded(e);
        String report = "Content-Type: multipart/report; report-type=disposition-notification; boundary=\"bcrep\"\r\n\r\n"
                + "--bcrep\r\nContent-Type: text/plain\r\n\r\nReceived by the BouncyCastle peer.\r\n"
                + "--bcrep\r\nContent-Type: message/disposition-notification\r\n\r\n"
                + "Reporting-UA: bc-peer\r\nOriginal-Recipient: rfc822; BCPEER\r\nFinal-Recipient: rfc822; BCPEER\r\n"
                + "Original-Message-ID: " + msgID + "\r\n"
                + (micValue != null ? "Received-Content-MIC: " + micValue + "\r\n" : "")
                + "Disposition: automatic-action/MDN-sent-automatically; processed\r\n\r\n--bcrep--\r\n";
        byte[][] out = new byte[1][];
        String ct = multipartSigned(ascii(report), out)[0];
        ex.getResponseHeaders().set("Content-Type", ct);
        ex.getResponseHeaders().set("AS2-From", "BCPEER");
        ex.getResponseHeaders().set("AS2-To", ex.getRequestHeaders().getFirst("AS2-From"));
        ex.getResponseHeaders().set("AS2-Version", "1.2");
        ex.getResponseHeaders().set("Message-ID", "<mdn-" + System.nanoTime() + "@bcpeer>");
        ex.getResponseHeaders().set("X-Peer-Found", String.join(", ", found));
        ex.getResponseHeaders().set("X-Peer-Payload-SHA256", hex(MessageDigest.getInstance("SHA-256").digest(payload)));
        ex.sendResponseHeaders(200, out[0].length);
        ex.getResponseBody().write(out[0]);
    }

    // ---- sending (BC -> Wharf)

    static void send(HttpExchange ex, byte[] payload) throws Exception {
        Map<String, String> q = new HashMap<>();
        for (String kv : ex.getRequestURI().getRawQuery().split("&")) {
            String[] p = kv.split("=", 2);
            q.put(p[0], URLDecoder.decode(p.length > 1 ? p[1] : "", StandardCharsets.UTF_8));
        }
        List<String> ber = new ArrayList<>(); // which layers BC wrote with indefinite lengths
        byte[] entity = concat(ascii("Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary\r\n"
                + "Content-Disposition: attachment; filename=\"bc.edi\"\r\n\r\n"), payload);
        if ("1".equals(q.get("compress"))) {
            // The stream generator writes BER with indefinite lengths.
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            OutputStream co = new CMSCompressedDataStreamGenerator().open(bo, new ZlibCompressor());
            co.write(entity);
            co.close();
            if ((bo.toByteArray()[1] & 0xff) == 0x80) ber.add("compressed");
            entity = concat(ascii("Content-Type: application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z\r\n"
                    + "Content-Transfer-Encoding: binary\r\n\r\n"), bo.toByteArray());
        }
        String micValue = mic(entity);
        if ("1".equals(q.get("sign"))) {
            byte[][] out = new byte[1][];
            String ct = multipartSigned(entity, out)[0];
            entity = concat(ascii("Content-Type: " + ct + "\r\n\r\n"), out[0]);
        }
        String cipher = q.getOrDefault("cipher", "none");
        String contentType;
        byte[] body;
        if (cipher.equals("none")) {
            Entity top = parse(entity);
            contentType = top.get("content-type");
            body = top.body;
        } else if (cipher.endsWith("-gcm")) {
            CMSAuthEnvelopedDataGenerator g = new CMSAuthEnvelopedDataGenerator();
            g.addRecipientInfoGenerator(new JceKeyTransRecipientInfoGenerator(wharf).setProvider("BC"));
            ASN1ObjectIdentifier alg = cipher.startsWith("aes128") ? CMSAlgorithm.AES128_GCM : CMSAlgorithm.AES256_GCM;
            OutputEncryptor enc = new JceCMSContentEncryptorBuilder(alg).setProvider("BC").build();
            body = g.generate(new CMSProcessableByteArray(entity), (org.bouncycastle.operator.OutputAEADEncryptor) enc).getEncoded();
            contentType = "application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m";
            if ((body[1] & 0xff) == 0x80) ber.add("authEnveloped");
        } else {
            // The stream generator writes BER with indefinite lengths.
            CMSEnvelopedDataStreamGenerator g = new CMSEnvelopedDataStreamGenerator();
            g.addRecipientInfoGenerator(new JceKeyTransRecipientInfoGenerator(wharf).setProvider("BC"));
            ASN1ObjectIdentifier alg = cipher.startsWith("aes128") ? CMSAlgorithm.AES128_CBC : CMSAlgorithm.AES256_CBC;
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            OutputStream eo = g.open(bo, new JceCMSContentEncryptorBuilder(alg).setProvider("BC").build());
            eo.write(entity);
            eo.close();
            body = bo.toByteArray();
            contentType = "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m";
            if ((body[1] & 0xff) == 0x80) ber.add("enveloped");
        }
        HttpURLConnection c = (HttpURLConnection) new URL(q.get("url")).openConnection();
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setRequestProperty("Content-Type", contentType);
        c.setRequestProperty("AS2-Version", "1.2");
        c.setRequestProperty("AS2-From", "BCPEER");
        c.setRequestProperty("AS2-To", "wharf");
        c.setRequestProperty("Message-ID", q.get("id"));
        c.setRequestProperty("MIME-Version", "1.0");
        c.setRequestProperty("Disposition-Notification-To", "bc@peer.example");
        c.setRequestProperty("Disposition-Notification-Options",
                "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256");
        c.getOutputStream().write(body);
        int status = c.getResponseCode();
        byte[] resp = (status < 400 ? c.getInputStream() : c.getErrorStream()).readAllBytes();
        if (status != 200) throw new Exception("Wharf answered HTTP " + status + ": " + new String(resp, StandardCharsets.UTF_8));
        Entity mdn = new Entity();
        mdn.headers.put("content-type", c.getHeaderField("Content-Type"));
        mdn.body = resp;
        boolean signed = false;
        if (mdn.get("content-type").toLowerCase(Locale.ROOT).startsWith("multipart/signed")) {
            List<byte[]> ps = parts(mdn.body, param(mdn.get("content-type"), "boundary"));
            if (!verify(ps.get(0), decoded(parse(ps.get(1))), wharf)) throw new Exception("Wharf's MDN signature does not verify");
            signed = true;
            mdn = parse(ps.get(0));
        }
        String disposition = "?", gotMIC = null;
        for (byte[] p : parts(mdn.body, param(mdn.get("content-type"), "boundary"))) {
            Entity pe = parse(p);
            if (!pe.get("content-type").toLowerCase(Locale.ROOT).startsWith("message/disposition-notification")) continue;
            for (String line : new String(pe.body, StandardCharsets.ISO_8859_1).split("\r?\n")) {
                if (line.toLowerCase(Locale.ROOT).startsWith("disposition:")) disposition = line.substring(12).trim();
                if (line.toLowerCase(Locale.ROOT).startsWith("received-content-mic:")) gotMIC = line.substring(21).trim();
            }
        }
        String micResult = gotMIC == null ? "none" : gotMIC.replace(" ", "").equalsIgnoreCase(micValue.replace(" ", "")) ? "match" : "mismatch";
        byte[] answer = ascii("disposition=" + disposition + "; mic=" + micResult + "; signed=" + signed + "; ber=" + String.join("+", ber));
        ex.sendResponseHeaders(200, answer.length);
        ex.getResponseBody().write(answer);
    }
}
