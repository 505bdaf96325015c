"""A small scenario for the sandbox's own tests: fast bots, every registry, every trap."""

SMALL = """
name: small
duration: 10
seed: 7
registrars:
  - {id: reg-two, name: Registrar Two, abuse_email: abuse@reg-two.example, rdap: false}
organizations:
  - id: jp-isp
    name: JP ISP
    name_ja: 日本のプロバイダ株式会社
    country: JP
    kind: isp
    registry: jpnic
    networks: [127.11.0.0/16]
    asn: 65001
    abuse_email: abuse@jp-isp.example
    behavior: {reply: always, reply_after: 0.2, takedown_after: 0.3, takedown: "404"}
  - id: us-cloud
    name: US Cloud
    country: US
    kind: overseas
    registry: arin
    networks: [127.12.0.0/16]
    asn: 65002
    abuse_email: abuse@us-cloud.example
    rate_limit: 3
    behavior: {reply: never, takedown_after: 0.3, takedown: refused, auto_reply: true}
  - id: de-host
    name: DE Host
    country: DE
    kind: overseas
    registry: ripe
    networks: [127.13.0.0/16]
    asn: 65003
    abuse_email: abuse@de-host.example
    behavior: {reply: sometimes, reply_after: 0.1, takedown_after: 0.2, takedown: suspended}
  - id: br-net
    name: BR Net
    country: BR
    kind: overseas
    registry: lacnic
    rdap: false
    networks: [127.14.0.0/16]
    asn: 65004
    abuse_email: abuse@br-net.example
    domain: br-net.example
    behavior:
      {reply: always, reply_after: 0.1, takedown_after: 0.2, takedown: nxdomain, bounce: true}
  - id: za-net
    name: ZA Net
    country: ZA
    kind: overseas
    registry: afrinic
    networks: [127.15.0.0/16]
    asn: 65005
    abuse_email: abuse@za-net.example
    behavior: {reply: rarely, takedown_after: 0.2, takedown: "410"}
  - id: kr-net
    name: KR Net
    country: KR
    kind: overseas
    registry: apnic
    networks: [127.16.0.0/16]
    asn: 65006
    abuse_email: abuse@kr-net.example
    behavior: {reply: never}
sites:
  - {id: jp1, url: "https://login.bank.example/jp/", ip: 127.11.0.1, brand: Sample Bank,
     revive_after: 0.5, aliases: [www.bank.example]}
  - {id: us1, url: "http://pay.shop.example/", ip: 127.12.0.1, brand: Sample Shop}
  - {id: de1, url: "http://id.mail.example/login/", ip: 127.13.0.1, brand: Sample Mail}
  - {id: br1, url: "http://secure.card.example/", ip: 127.14.0.1, brand: Sample Card,
     registrar: reg-two}
  - {id: za1, url: "http://dl.files.example/tool.exe", ip: 127.15.0.1, kind: malware}
  - {id: kr1, url: "http://127.16.0.9/bank/", ip: 127.16.0.9, brand: Sample Bank}
  - {id: slow, url: "http://slow.traps.example/", ip: 127.16.0.2, trap: slow}
  - {id: huge, url: "http://huge.traps.example/", ip: 127.16.0.2, trap: huge}
  - {id: loop, url: "http://loop.traps.example/a/", ip: 127.16.0.2, trap: redirect-loop}
  - {id: bomb, url: "http://bomb.traps.example/", ip: 127.16.0.2, trap: gzip-bomb}
  - {id: badtls, url: "https://badtls.traps.example/", ip: 127.16.0.2, trap: bad-tls}
  - {id: private, url: "http://private.traps.example/", ip: 127.16.0.2, trap: redirect-to-private}
  - {id: rebind, url: "http://rebind.traps.example/", ip: 127.16.0.2, trap: dns-rebind}
  - {id: gone, url: "http://old.bank.example/", ip: 127.11.0.2, up: false}
  - {id: later, url: "http://later.bank.example/", ip: 127.11.0.3, appears_at: 0.3}
reports:
  - at: 0
    channel: email
    reporter: {name: SOC, email: soc@reporter.example, type: csirt, country: JP}
    text: "hxxps://login.bank[.]example/jp/"
"""
