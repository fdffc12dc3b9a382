#!/usr/bin/env python3
"""Writes sedgate's modelled SED XSDs (schemas/<cdm>/) and the SED example fixtures
(tests/fixtures/sed/<cdm>/<SED>/) from one description, so schema and examples cannot drift.

The official EESSI SED XSDs are not public: these are our own, in the EESSI style (one
target namespace per CDM version and SED type, shared chameleon includes for common types).
Run from the repository root: python3 schemas/tools/generate.py
"""
import os
import re
from xml.sax.saxutils import escape

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CDMS = ["4.1", "4.2"]
XS = "http://www.w3.org/2001/XMLSchema"

EESSI_COUNTRIES = ("AT BE BG CH CY CZ DE DK EE EL ES EU FI FR HR HU IE IS IT LI LT LU LV MT "
                   "NL NO PL PT RO SE SI SK UK").split()


def enum(values):
    return ("enum", values)


def seq(items):
    return ("seq", items)


# Per SED: (sector, body after Header and Person). Each item: (element, type, min, max).
# Field names follow the RINA/NAV JSON SED model (shared/data/eessi/sed-examples), translated.
SEDS = {
    "DA010": ("AW", [
        ("ReimbursementClaim", seq([
            ("ClaimReference", "FreeTextType", 1, 1),
            ("Period", "PeriodType", 1, 1),
            ("ClaimedAmount", "AmountType", 1, 1),
            ("BenefitKind", enum(["benefits_in_kind", "cash_benefits"]), 1, 1),
        ]), 1, 1),
        ("Remarks", "FreeTextType", 0, 1),
    ]),
    "F001": ("FB", [
        ("Children", seq([("Child", "PersonType", 1, "unbounded")]), 1, 1),
        ("ClaimDate", "DateType", 1, 1),
        ("BenefitType", enum(["family_allowance", "childcare_allowance", "other"]), 1, 1),
        ("Remarks", "FreeTextType", 0, 1),
    ]),
    "H001": ("H", [
        ("Subject", "FreeTextType", 1, 1),
        ("InformationRequested", "FreeTextType", 1, 1),
        ("ReplyDeadline", "DateType", 0, 1),
    ]),
    "A001": ("LA", [
        ("Address", "AddressType", 0, "unbounded"),
        ("Employer", "EmployerType", 1, "unbounded"),
        ("CurrentMemberState", "EessiCountryCodeType", 1, 1),
        ("RequestedMemberState", "EessiCountryCodeType", 1, 1),
        ("RequestedPeriod", "PeriodType", 1, 1),
        ("LegalBasis", enum(["16_1", "16_2"]), 1, 1),
        ("Justification", "FreeTextType", 1, 1),
    ]),
    "A003": ("LA", [
        ("Employer", "EmployerType", 0, "unbounded"),
        ("WorkCountries", seq([("Country", "EessiCountryCodeType", 1, "unbounded")]), 1, 1),
        ("ApplicableLegislation", "EessiCountryCodeType", 1, 1),
        ("LegalBasis", enum(["13_1_a", "13_1_b_i", "13_1_b_ii", "13_1_b_iii", "13_1_b_iv",
                             "13_2_a", "13_2_b", "13_3", "13_4"]), 1, 1),
        ("DeterminationPeriod", "PeriodType", 1, 1),
    ]),
    "A008": ("LA", [
        ("ChangeType", enum(["start_of_activity", "end_of_activity", "change_of_address",
                             "other"]), 1, 1),
        ("EffectiveDate", "DateType", 1, 1),
        ("Address", "AddressType", 0, 1),
        ("Description", "FreeTextType", 0, 1),
    ]),
    "A009": ("LA", [
        ("Employer", "EmployerType", 1, 1),
        ("PostingPeriod", "PeriodType", 1, 1),
        ("HostCountry", "EessiCountryCodeType", 1, 1),
        ("WorkplaceAddress", "AddressType", 0, "unbounded"),
        ("LegalBasis", enum(["12_1", "12_2"]), 1, 1),
    ]),
    "M030": ("M", [
        ("Subject", "FreeTextType", 1, 1),
        ("ResidenceAddress", "AddressType", 1, 1),
        ("ResidenceSince", "DateType", 0, 1),
        ("RequestType", enum(["confirmation", "information", "notification"]), 1, 1),
    ]),
    "P2000": ("P", [
        ("Address", "AddressType", 0, 1),
        ("ClaimDate", "DateType", 1, 1),
        ("RequestedStartDate", "DateType", 0, 1),
        ("PensionType", enum(["old_age", "early_old_age", "deferred_old_age"]), 1, 1),
        ("BankAccount", "BankAccountType", 0, 1),
        ("InsurancePeriods", seq([("Period", "InsurancePeriodType", 1, "unbounded")]), 0, 1),
        ("Remarks", "FreeTextType", 0, 1),
    ]),
    "P2100": ("P", [
        ("Deceased", "PersonType", 1, 1),
        ("DateOfDeath", "DateType", 1, 1),
        ("Relationship", enum(["spouse", "registered_partner", "child", "other"]), 1, 1),
        ("ClaimDate", "DateType", 1, 1),
        ("BankAccount", "BankAccountType", 0, 1),
    ]),
    "P5000": ("P", [
        ("InsurancePeriods", seq([("Period", "InsurancePeriodType", 1, "unbounded")]), 1, 1),
        ("TotalMonths", "xs:nonNegativeInteger", 0, 1),
    ]),
    "P8000": ("P", [
        ("RequestedInformation", "FreeTextType", 1, "unbounded"),
        ("RequestType", enum(["pension_information", "documents", "medical_information"]), 1, 1),
        ("ReplyDeadline", "DateType", 0, 1),
    ]),
    "R005": ("R", [
        ("Claim", seq([
            ("Reference", "FreeTextType", 1, 1),
            ("Period", "PeriodType", 1, 1),
            ("Amount", "AmountType", 1, 1),
            ("ClaimType", enum(["offsetting", "recovery"]), 1, 1),
        ]), 1, 1),
    ]),
    "S040": ("S", [
        ("Subject", "FreeTextType", 1, 1),
        ("IncapacityPeriod", "PeriodType", 1, 1),
        ("BenefitKind", enum(["cash_benefits", "benefits_in_kind"]), 1, 1),
    ]),
    "U001": ("UB", [
        ("RequestedPeriod", "PeriodType", 1, 1),
        ("LastEmployer", "EmployerType", 0, 1),
        ("ApplicationDate", "DateType", 1, 1),
        ("RequestType", enum(["periods", "periods_and_salary"]), 1, 1),
    ]),
    "X001": ("X", [
        ("Closure", seq([
            ("ClosureDate", "DateType", 1, 1),
            ("Reason", enum(["case_completed", "duplicate_case", "other"]), 1, 1),
            ("OtherReason", "FreeTextType", 0, 1),
        ]), 1, 1),
    ]),
    "X005": ("X", [
        ("AddInstitution", seq([
            ("Institution", "InstitutionType", 1, 1),
            ("Reason", "FreeTextType", 0, 1),
        ]), 1, "unbounded"),
    ]),
    "X009": ("X", [
        ("Reminder", seq([
            ("SedType", "SedTypeRefType", 1, 1),
            ("SentOn", "DateType", 0, 1),
            ("Deadline", "DateType", 0, 1),
        ]), 1, "unbounded"),
    ]),
}

COMMON = {}

COMMON["dates"] = """
  <xs:simpleType name="DateType">
    <xs:annotation><xs:documentation>A calendar date without time zone, YYYY-MM-DD.</xs:documentation></xs:annotation>
    <xs:restriction base="xs:date">
      <xs:pattern value="[0-9]{4}-[0-9]{2}-[0-9]{2}"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:complexType name="PeriodType">
    <xs:sequence>
      <xs:element name="StartDate" type="DateType"/>
      <xs:element name="EndDate" type="DateType" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
"""

COMMON["countries"] = """
  <xs:simpleType name="CountryCodeType">
    <xs:annotation><xs:documentation>ISO 3166-1 alpha-2 country code (EESSI writes EL and UK).</xs:documentation></xs:annotation>
    <xs:restriction base="xs:string">
      <xs:pattern value="[A-Z]{2}"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="EessiCountryCodeType">
    <xs:annotation><xs:documentation>A country taking part in EESSI.</xs:documentation></xs:annotation>
    <xs:restriction base="xs:string">
""" + "".join(f'      <xs:enumeration value="{c}"/>\n' for c in EESSI_COUNTRIES) + """    </xs:restriction>
  </xs:simpleType>
"""

COMMON["institution"] = """
  <xs:simpleType name="InstitutionIDType">
    <xs:annotation><xs:documentation>Institution id in the institution repository, CC:ID.</xs:documentation></xs:annotation>
    <xs:restriction base="xs:string">
      <xs:pattern value="[A-Z]{2}:[A-Za-z0-9._\\-]{1,32}"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:complexType name="InstitutionType">
    <xs:sequence>
      <xs:element name="InstitutionID" type="InstitutionIDType"/>
      <xs:element name="Name" type="NameType" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
  <xs:simpleType name="SedTypeRefType">
    <xs:restriction base="xs:string">
      <xs:pattern value="[A-Z]{1,3}[0-9]{3,5}[A-Z]{0,2}"/>
    </xs:restriction>
  </xs:simpleType>
"""

COMMON["header"] = """
  <xs:simpleType name="CaseIDType">
    <xs:annotation><xs:documentation>The case (BUC instance) id; the ebMS ConversationId.</xs:documentation></xs:annotation>
    <xs:restriction base="xs:string">
      <xs:pattern value="[A-Za-z0-9._:\\-]{1,64}"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:complexType name="ReceiversType">
    <xs:sequence>
      <xs:element name="Receiver" type="InstitutionType" maxOccurs="100"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="HeaderType">
    <xs:annotation><xs:documentation>Common SED header: intake checks these ids against the request.</xs:documentation></xs:annotation>
    <xs:sequence>
      <xs:element name="CaseID" type="CaseIDType"/>
      <xs:element name="Sender" type="InstitutionType"/>
      <xs:element name="Receivers" type="ReceiversType"/>
    </xs:sequence>
  </xs:complexType>
"""

COMMON["text"] = """
  <xs:simpleType name="NameType">
    <xs:restriction base="xs:string">
      <xs:minLength value="1"/>
      <xs:maxLength value="155"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="FreeTextType">
    <xs:restriction base="xs:string">
      <xs:minLength value="1"/>
      <xs:maxLength value="2000"/>
    </xs:restriction>
  </xs:simpleType>
"""


def person_xsd(cdm):
    place = ""
    if cdm != "4.1":
        # CDM 4.2 added the place of birth (NAV's foedested) as an optional element.
        place = '      <xs:element name="PlaceOfBirth" type="PlaceType" minOccurs="0"/>\n'
    return """
  <xs:simpleType name="SexCodeType">
    <xs:annotation><xs:documentation>M male, F female, U unknown.</xs:documentation></xs:annotation>
    <xs:restriction base="xs:string">
      <xs:enumeration value="M"/>
      <xs:enumeration value="F"/>
      <xs:enumeration value="U"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="PinSectorType">
    <xs:restriction base="xs:string">
      <xs:enumeration value="all"/>
      <xs:enumeration value="pensions"/>
      <xs:enumeration value="sickness"/>
      <xs:enumeration value="unemployment"/>
      <xs:enumeration value="family"/>
      <xs:enumeration value="accidents_at_work"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:complexType name="PINType">
    <xs:annotation><xs:documentation>Personal identification number given by one country.</xs:documentation></xs:annotation>
    <xs:sequence>
      <xs:element name="Country" type="CountryCodeType"/>
      <xs:element name="Identifier">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:minLength value="1"/>
            <xs:maxLength value="65"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
      <xs:element name="Sector" type="PinSectorType" minOccurs="0"/>
      <xs:element name="Institution" type="InstitutionType" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="PersonType">
    <xs:sequence>
      <xs:element name="FamilyName" type="NameType"/>
      <xs:element name="Forename" type="NameType"/>
      <xs:element name="FamilyNameAtBirth" type="NameType" minOccurs="0"/>
      <xs:element name="ForenameAtBirth" type="NameType" minOccurs="0"/>
      <xs:element name="Sex" type="SexCodeType"/>
      <xs:element name="DateOfBirth" type="DateType"/>
""" + place + """      <xs:element name="Nationality" type="CountryCodeType" maxOccurs="10"/>
      <xs:element name="PIN" type="PINType" minOccurs="0" maxOccurs="unbounded"/>
    </xs:sequence>
  </xs:complexType>
"""


COMMON["address"] = """
  <xs:complexType name="AddressType">
    <xs:sequence>
      <xs:element name="Street" type="NameType" minOccurs="0"/>
      <xs:element name="Building" type="NameType" minOccurs="0"/>
      <xs:element name="Town" type="NameType"/>
      <xs:element name="PostCode" minOccurs="0">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:minLength value="1"/>
            <xs:maxLength value="25"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
      <xs:element name="Region" type="NameType" minOccurs="0"/>
      <xs:element name="Country" type="CountryCodeType"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="PlaceType">
    <xs:sequence>
      <xs:element name="Town" type="NameType" minOccurs="0"/>
      <xs:element name="Region" type="NameType" minOccurs="0"/>
      <xs:element name="Country" type="CountryCodeType"/>
    </xs:sequence>
  </xs:complexType>
"""

COMMON["finance"] = """
  <xs:complexType name="AmountType">
    <xs:sequence>
      <xs:element name="Value">
        <xs:simpleType>
          <xs:restriction base="xs:decimal">
            <xs:fractionDigits value="2"/>
            <xs:minInclusive value="0"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
      <xs:element name="Currency">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:pattern value="[A-Z]{3}"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="BankAccountType">
    <xs:sequence>
      <xs:element name="AccountHolder" type="NameType" minOccurs="0"/>
      <xs:element name="IBAN">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:pattern value="[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
      <xs:element name="BIC" minOccurs="0">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:pattern value="[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="EmployerIdentifierType">
    <xs:sequence>
      <xs:element name="Type">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:enumeration value="registration"/>
            <xs:enumeration value="tax"/>
            <xs:enumeration value="social_security"/>
            <xs:enumeration value="unknown"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
      <xs:element name="Value" type="NameType"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="EmployerType">
    <xs:sequence>
      <xs:element name="Name" type="NameType"/>
      <xs:element name="Identifier" type="EmployerIdentifierType" minOccurs="0" maxOccurs="10"/>
      <xs:element name="Address" type="AddressType" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="InsurancePeriodType">
    <xs:sequence>
      <xs:element name="StartDate" type="DateType"/>
      <xs:element name="EndDate" type="DateType" minOccurs="0"/>
      <xs:element name="Kind">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:enumeration value="employment"/>
            <xs:enumeration value="self_employment"/>
            <xs:enumeration value="voluntary"/>
            <xs:enumeration value="residence"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
      <xs:element name="Country" type="CountryCodeType"/>
      <xs:element name="Institution" type="InstitutionType" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
"""

COMMON_ORDER = ["dates", "countries", "text", "institution", "header", "person", "address", "finance"]


def common_file(cdm, name):
    body = person_xsd(cdm) if name == "person" else COMMON[name]
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<!-- sedgate modelled EESSI CDM {cdm} common types: {name}. Chameleon include\n'
            f'     (no targetNamespace): takes the namespace of each SED schema that includes it. -->\n'
            f'<xs:schema xmlns:xs="{XS}" elementFormDefault="qualified" attributeFormDefault="unqualified">\n'
            f'{body}</xs:schema>\n')


def ns(cdm, sed):
    return f"http://ec.europa.eu/eessi/ns/{cdm.replace('.', '_')}/{sed}"


def xsd_items(items, indent):
    out = []
    pad = " " * indent
    for name, typ, lo, hi in items:
        occ = ""
        if lo != 1:
            occ += f' minOccurs="{lo}"'
        if hi != 1:
            occ += f' maxOccurs="{hi}"'
        if isinstance(typ, str):
            out.append(f'{pad}<xs:element name="{name}" type="{typ}"{occ}/>')
        elif typ[0] == "enum":
            out.append(f'{pad}<xs:element name="{name}"{occ}>')
            out.append(f'{pad}  <xs:simpleType>')
            out.append(f'{pad}    <xs:restriction base="xs:string">')
            for v in typ[1]:
                out.append(f'{pad}      <xs:enumeration value="{v}"/>')
            out.append(f'{pad}    </xs:restriction>')
            out.append(f'{pad}  </xs:simpleType>')
            out.append(f'{pad}</xs:element>')
        else:
            out.append(f'{pad}<xs:element name="{name}"{occ}>')
            out.append(f'{pad}  <xs:complexType>')
            out.append(f'{pad}    <xs:sequence>')
            out.extend(xsd_items(typ[1], indent + 6))
            out.append(f'{pad}    </xs:sequence>')
            out.append(f'{pad}  </xs:complexType>')
            out.append(f'{pad}</xs:element>')
    return out


def sed_xsd(cdm, sed):
    sector, body = SEDS[sed]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<!-- sedgate modelled SED {sed} (sector {sector}), CDM {cdm}. Not the official EESSI schema. -->',
        f'<xs:schema xmlns:xs="{XS}" xmlns="{ns(cdm, sed)}" targetNamespace="{ns(cdm, sed)}"',
        '           elementFormDefault="qualified" attributeFormDefault="unqualified" version="' + cdm + '">',
    ]
    for c in COMMON_ORDER:
        lines.append(f'  <xs:include schemaLocation="common/{c}.xsd"/>')
    lines += [
        f'  <xs:element name="{sed}">',
        '    <xs:complexType>',
        '      <xs:sequence>',
        '        <xs:element name="Header" type="HeaderType"/>',
        '        <xs:element name="Person" type="PersonType"/>',
    ]
    lines += xsd_items(body, 8)
    lines += [
        '      </xs:sequence>',
        '      <xs:attribute name="sedGVer" type="xs:positiveInteger" use="required"/>',
        '      <xs:attribute name="sedVer" type="xs:positiveInteger" use="required"/>',
        '    </xs:complexType>',
        '  </xs:element>',
        '</xs:schema>',
    ]
    return "\n".join(lines) + "\n"


# ---- examples -------------------------------------------------------------------------

SENDER = "NO:NAVAT07"
RECEIVER = "DE:DRV001"


def leaf(tag, value, pad):
    return [f"{pad}<{tag}>{escape(value)}</{tag}>"]


def sample(typ, tag, pad, cdm, n):
    """Lines for one element of `typ` named `tag`; n varies values between repeats."""
    inner = pad + "  "
    if isinstance(typ, tuple):
        if typ[0] == "enum":
            return leaf(tag, typ[1][0], pad)
        out = [f"{pad}<{tag}>"]
        for name, t, lo, hi in typ[1]:
            out += sample(t, name, inner, cdm, n)
        return out + [f"{pad}</{tag}>"]
    simple = {
        "DateType": "2021-03-15",
        "CountryCodeType": "DE",
        "EessiCountryCodeType": "NO",
        "FreeTextType": "Please confirm the periods completed under your legislation.",
        "NameType": "Example name",
        "SedTypeRefType": "P8000",
        "xs:nonNegativeInteger": "124",
    }
    if typ in simple:
        return leaf(tag, simple[typ], pad)
    if typ == "PeriodType":
        return [f"{pad}<{tag}>", *leaf("StartDate", "2019-01-01", inner),
                *leaf("EndDate", "2020-12-31", inner), f"{pad}</{tag}>"]
    if typ == "AmountType":
        return [f"{pad}<{tag}>", *leaf("Value", "1234.50", inner),
                *leaf("Currency", "EUR", inner), f"{pad}</{tag}>"]
    if typ == "InstitutionType":
        return [f"{pad}<{tag}>", *leaf("InstitutionID", "SE:FK001", inner),
                *leaf("Name", "Försäkringskassan", inner), f"{pad}</{tag}>"]
    if typ == "AddressType":
        return [f"{pad}<{tag}>", *leaf("Street", "Storgata 12", inner),
                *leaf("Town", "Oslo", inner), *leaf("PostCode", "0155", inner),
                *leaf("Country", "NO", inner), f"{pad}</{tag}>"]
    if typ == "BankAccountType":
        return [f"{pad}<{tag}>", *leaf("AccountHolder", "Kari Nordmann", inner),
                *leaf("IBAN", "DE89370400440532013000", inner),
                *leaf("BIC", "COBADEFFXXX", inner), f"{pad}</{tag}>"]
    if typ == "EmployerType":
        return [f"{pad}<{tag}>", *leaf("Name", "Nordic Offshore AS", inner),
                f"{inner}<Identifier>", *leaf("Type", "registration", inner + "  "),
                *leaf("Value", "974760673", inner + "  "), f"{inner}</Identifier>",
                *sample("AddressType", "Address", inner, cdm, n), f"{pad}</{tag}>"]
    if typ == "InsurancePeriodType":
        year = 1980 + (n % 40)
        return [f"{pad}<{tag}>", *leaf("StartDate", f"{year}-01-01", inner),
                *leaf("EndDate", f"{year}-12-31", inner),
                *leaf("Kind", ["employment", "self_employment", "voluntary", "residence"][n % 4], inner),
                *leaf("Country", ["NO", "DE", "SE", "FR"][n % 4], inner),
                f"{pad}</{tag}>"]
    if typ == "PersonType":
        out = [f"{pad}<{tag}>", *leaf("FamilyName", "Nordmann", inner),
               *leaf("Forename", "Kari", inner), *leaf("Sex", "F", inner),
               *leaf("DateOfBirth", "1958-02-01", inner)]
        if cdm != "4.1":
            out += [f"{inner}<PlaceOfBirth>", *leaf("Town", "Bergen", inner + "  "),
                    *leaf("Country", "NO", inner + "  "), f"{inner}</PlaceOfBirth>"]
        out += [*leaf("Nationality", "NO", inner), f"{inner}<PIN>",
                *leaf("Country", "NO", inner + "  "), *leaf("Identifier", "01025812345", inner + "  "),
                *leaf("Sector", "pensions", inner + "  "), f"{inner}</PIN>", f"{pad}</{tag}>"]
        return out
    raise ValueError(typ)


def example(cdm, sed, repeat=1):
    sector, body = SEDS[sed]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<{sed} xmlns="{ns(cdm, sed)}" sedGVer="4" sedVer="1">',
             "  <Header>",
             "    <CaseID>1000123456</CaseID>",
             "    <Sender>",
             f"      <InstitutionID>{SENDER}</InstitutionID>",
             "      <Name>NAV ACCEPTANCE TEST 07</Name>",
             "    </Sender>",
             "    <Receivers>",
             "      <Receiver>",
             f"        <InstitutionID>{RECEIVER}</InstitutionID>",
             "      </Receiver>",
             "    </Receivers>",
             "  </Header>"]
    lines += sample("PersonType", "Person", "  ", cdm, 0)
    for name, typ, lo, hi in body:
        count = 1
        if isinstance(typ, tuple) and typ[0] == "seq" and repeat > 1:
            # The benchmark document repeats the unbounded periods.
            inner_items = [(a, b, c, d) for a, b, c, d in typ[1]]
            if any(d == "unbounded" for _, _, _, d in inner_items):
                out = [f"  <{name}>"]
                for a, b, c, d in inner_items:
                    for i in range(repeat if d == "unbounded" else 1):
                        out += sample(b, a, "    ", cdm, i)
                lines += out + [f"  </{name}>"]
                continue
        for i in range(count):
            lines += sample(typ, name, "  ", cdm, i)
    lines.append(f"</{sed}>")
    return "\n".join(lines) + "\n"


def replace_once(text, old, new):
    assert text.count(old) >= 1, (old, text[:200])
    return text.replace(old, new, 1)


def invalids(cdm, sed, valid):
    other = "4_1" if cdm == "4.2" else "4_2"
    lines = valid.split("\n")
    missing = "\n".join(l for l in lines if "<DateOfBirth>" not in l)
    return {
        # Person/DateOfBirth left out: the next element (PlaceOfBirth or Nationality) is unexpected.
        "missing-element": missing,
        "bad-institution-id": replace_once(valid, f"<InstitutionID>{SENDER}<", "<InstitutionID>NO-NAVAT07<"),
        "wrong-namespace": replace_once(valid, ns(cdm, sed), f"http://ec.europa.eu/eessi/ns/{other}/{sed}"),
        "bad-date": replace_once(valid, "<DateOfBirth>1958-02-01<", "<DateOfBirth>1958-02-30<"),
        "bad-enumeration": replace_once(valid, "<Sex>F</Sex>", "<Sex>X</Sex>"),
    }


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def main():
    for cdm in CDMS:
        for c in COMMON_ORDER:
            write(os.path.join(ROOT, "schemas", cdm, "common", f"{c}.xsd"), common_file(cdm, c))
        for sed in SEDS:
            write(os.path.join(ROOT, "schemas", cdm, f"{sed}.xsd"), sed_xsd(cdm, sed))
            fixture_dir = os.path.join(ROOT, "tests", "fixtures", "sed", cdm, sed)
            valid = example(cdm, sed)
            write(os.path.join(fixture_dir, "valid.xml"), valid)
            for what, text in invalids(cdm, sed, valid).items():
                write(os.path.join(fixture_dir, f"invalid-{what}.xml"), text)
    big = example("4.2", "P2000", repeat=52)
    write(os.path.join(ROOT, "tests", "fixtures", "sed", "4.2", "P2000", "valid-10k.xml"), big)
    print(f"10k example: {len(big.encode())} bytes")


if __name__ == "__main__":
    main()
