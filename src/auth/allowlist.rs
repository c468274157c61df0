//! Per-token address allowlists: the networks (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`) a
//! token may be used from. Parsed once, so an invalid entry cannot be stored.

use std::fmt;
use std::net::IpAddr;

/// One network: an address and how many leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    bits: u8,
}

impl Network {
    /// Parses `ADDRESS` or `ADDRESS/BITS`; host bits below the prefix must be zero.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, bits) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text, None),
        };
        let base: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR network"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0–{max}"))?,
        };
        let network = Self { base, bits };
        if network.masked(base) != bits_of(base) {
            return Err(format!("`{text}` has host bits set; write the network address"));
        }
        Ok(network)
    }

    fn masked(&self, address: IpAddr) -> u128 {
        let width = if address.is_ipv4() { 32 } else { 128 };
        let shift = width - u32::from(self.bits);
        let value = bits_of(address);
        if shift >= 128 { 0 } else { (value >> shift) << shift }
    }

    /// Whether `address` lies in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        address.is_ipv4() == self.base.is_ipv4() && self.masked(address) == bits_of(self.base)
    }
}

fn bits_of(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.bits)
    }
}

/// The networks a token may be used from; never empty (no allowlist is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist(Vec<Network>);

impl Allowlist {
    /// Most networks per token.
    pub const MAX: usize = 50;

    /// Parses a list of networks: 1 to [`Allowlist::MAX`] entries.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        if entries.is_empty() || entries.len() > Self::MAX {
            return Err(format!("between 1 and {} networks (or null for none)", Self::MAX));
        }
        entries
            .iter()
            .map(|e| Network::parse(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The stored form: networks separated by commas.
    pub fn to_column(&self) -> String {
        self.entries().join(",")
    }

    /// Reads the stored form; a damaged value allows nothing (fail closed).
    pub fn from_column(text: &str) -> Self {
        let entries: Vec<&str> = text.split(',').collect();
        Self::parse(&entries).unwrap_or(Self(Vec::new()))
    }

    /// The networks as text, for the API.
    pub fn entries(&self) -> Vec<String> {
        self.0.iter().map(Network::to_string).collect()
    }

    /// Whether `address` is in one of the networks.
    pub fn allows(&self, address: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_and_nothing_else() {
        let cases = [
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("127.0.0.2", "127.0.0.2", true),
            ("127.0.0.2", "127.0.0.3", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "::1", false),
            ("2001:db8::/32", "2001:db8:1::5", true),
            ("2001:db8::/32", "2001:db9::5", false),
            ("192.0.2.0/24", "::ffff:192.0.2.77", true),
            ("::/0", "::1", true),
        ];
        for (network, address, expected) in cases {
            let network = Network::parse(network).unwrap();
            assert_eq!(network.contains(ip(address)), expected, "{network} ∋ {address}");
        }
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "nonsense", "10.0.0.0/", "::1/129", ""] {
            assert!(Network::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Allowlist::parse::<&str>(&[]).is_err());
        let list = Allowlist::parse(&["10.0.0.0/8", " 192.0.2.7 "]).unwrap();
        assert_eq!(list.to_column(), "10.0.0.0/8,192.0.2.7/32");
        assert_eq!(Allowlist::from_column(&list.to_column()), list);
        assert!(!Allowlist::from_column("garbage").allows(ip("10.0.0.1")), "fail closed");
    }

    proptest::proptest! {
        /// Any text: an error or a network that prints back to itself and contains its base.
        #[test]
        fn parsing_any_text_never_panics_and_round_trips(text in "\\PC{0,60}") {
            if let Ok(network) = Network::parse(&text) {
                let again = Network::parse(&network.to_string()).unwrap();
                proptest::prop_assert_eq!(again, network);
                proptest::prop_assert!(network.contains(network.base));
            }
        }

        /// Every address inside an IPv4 network matches it, whatever the prefix.
        #[test]
        fn ipv4_networks_contain_exactly_their_range(address: u32, bits in 0u8..=32, probe: u32) {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            let base = std::net::Ipv4Addr::from(address & mask);
            let network = Network::parse(&format!("{base}/{bits}")).unwrap();
            let inside = probe & mask == address & mask;
            proptest::prop_assert_eq!(network.contains(IpAddr::V4(probe.into())), inside);
        }
    }
}
