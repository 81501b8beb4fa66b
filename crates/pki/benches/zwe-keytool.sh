#!/usr/bin/env bash
# The keytool/openssl command sequence that `zwe init certificate` runs for
# the PKCS12 scenario with a local CA (zowe-install-packaging: pkcs12 CA
# creation, server key, CSR, signing, imports, PEM exports), producing the
# same files as `zgate cert init` in Zowe's layout:
#
#   DIR/local_ca/local_ca.keystore.p12  DIR/local_ca/local_ca.cer
#   DIR/localhost/localhost.keystore.p12  localhost.truststore.p12
#   DIR/localhost/localhost.cer  localhost.key  local_ca.cer
#
# Used as the baseline when timing `zgate cert init`:
#   bash crates/pki/benches/zwe-keytool.sh /tmp/zwe-out
#   zgate --home /tmp/zgate-home cert init --force --pkcs12-legacy
# (compare both with `/usr/bin/time -v`, or any whole-process timer).
set -euo pipefail

DIR=${1:?usage: zwe-keytool.sh OUTPUT_DIR}
HOST=$(hostname)
CA_ALIAS=local_ca
CA_PASSWORD=local_ca_password
NAME=localhost
PASSWORD=password
VALIDITY=3650
OU="OU=API Mediation Layer, O=Zowe Sample, L=Prague, ST=Prague, C=CZ"
CA_DNAME="CN=Zowe Development Instances Certificate Authority, $OU"
DNAME="CN=Zowe Service, $OU"
SAN="dns:${HOST},dns:localhost,dns:localhost.localdomain,ip:127.0.0.1"
# zwe runs keytool in legacy PKCS12 mode so GSKit-based ZSS can read the files.
KEYTOOL=(keytool -J-Dkeystore.pkcs12.legacy)

rm -rf "$DIR"
mkdir -p "$DIR/$CA_ALIAS" "$DIR/$NAME"
CA_KS="$DIR/$CA_ALIAS/$CA_ALIAS.keystore.p12"
KS="$DIR/$NAME/$NAME.keystore.p12"
TS="$DIR/$NAME/$NAME.truststore.p12"

# 1. local CA key pair, self-signed
"${KEYTOOL[@]}" -genkeypair -alias "$CA_ALIAS" -keyalg RSA -keysize 2048 \
  -keystore "$CA_KS" -storetype PKCS12 -storepass "$CA_PASSWORD" -keypass "$CA_PASSWORD" \
  -dname "$CA_DNAME" -validity "$VALIDITY" \
  -ext KeyUsage:critical=keyCertSign,cRLSign -ext BasicConstraints:critical=ca:true >/dev/null 2>&1
# 2. CA certificate as PEM
"${KEYTOOL[@]}" -exportcert -rfc -alias "$CA_ALIAS" -keystore "$CA_KS" -storetype PKCS12 \
  -storepass "$CA_PASSWORD" -file "$DIR/$CA_ALIAS/$CA_ALIAS.cer" >/dev/null 2>&1
# 3. server key pair
"${KEYTOOL[@]}" -genkeypair -alias "$NAME" -keyalg RSA -keysize 2048 \
  -keystore "$KS" -storetype PKCS12 -storepass "$PASSWORD" -keypass "$PASSWORD" \
  -dname "$DNAME" -validity "$VALIDITY" >/dev/null 2>&1
# 4. certificate request
"${KEYTOOL[@]}" -certreq -alias "$NAME" -keystore "$KS" -storetype PKCS12 -storepass "$PASSWORD" \
  -file "$DIR/$NAME/$NAME.csr" >/dev/null 2>&1
# 5. CA signs it, with the SAN, key usage and both EKUs
"${KEYTOOL[@]}" -gencert -rfc -alias "$CA_ALIAS" -keystore "$CA_KS" -storetype PKCS12 \
  -storepass "$CA_PASSWORD" -keypass "$CA_PASSWORD" \
  -infile "$DIR/$NAME/$NAME.csr" -outfile "$DIR/$NAME/$NAME.signed.cer" -validity "$VALIDITY" \
  -ext "SAN=$SAN" -ext KeyUsage:critical=digitalSignature,keyEncipherment \
  -ext ExtendedKeyUsage=serverAuth,clientAuth >/dev/null 2>&1
# 6. import the CA into the server keystore
"${KEYTOOL[@]}" -importcert -noprompt -trustcacerts -alias "$CA_ALIAS" -file "$DIR/$CA_ALIAS/$CA_ALIAS.cer" \
  -keystore "$KS" -storetype PKCS12 -storepass "$PASSWORD" >/dev/null 2>&1
# 7. import the signed certificate over the server key entry
"${KEYTOOL[@]}" -importcert -noprompt -trustcacerts -alias "$NAME" -file "$DIR/$NAME/$NAME.signed.cer" \
  -keystore "$KS" -storetype PKCS12 -storepass "$PASSWORD" -keypass "$PASSWORD" >/dev/null 2>&1
# 8. truststore with the CA
"${KEYTOOL[@]}" -importcert -noprompt -trustcacerts -alias "$CA_ALIAS" -file "$DIR/$CA_ALIAS/$CA_ALIAS.cer" \
  -keystore "$TS" -storetype PKCS12 -storepass "$PASSWORD" >/dev/null 2>&1
# 9. PEM exports: server certificate and CA certificate
"${KEYTOOL[@]}" -exportcert -rfc -alias "$NAME" -keystore "$KS" -storetype PKCS12 -storepass "$PASSWORD" \
  -file "$DIR/$NAME/$NAME.cer" >/dev/null 2>&1
"${KEYTOOL[@]}" -exportcert -rfc -alias "$CA_ALIAS" -keystore "$KS" -storetype PKCS12 -storepass "$PASSWORD" \
  -file "$DIR/$NAME/$CA_ALIAS.cer" >/dev/null 2>&1
# 10. the private key as unencrypted PKCS#8 PEM (keytool cannot export keys)
openssl pkcs12 -legacy -in "$KS" -passin "pass:$PASSWORD" -nocerts -nodes 2>/dev/null \
  | openssl pkcs8 -topk8 -nocrypt -out "$DIR/$NAME/$NAME.key"
chmod 600 "$DIR/$NAME/$NAME.key" "$KS" "$CA_KS"
rm -f "$DIR/$NAME/$NAME.csr" "$DIR/$NAME/$NAME.signed.cer"
