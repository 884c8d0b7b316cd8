package chat

import (
	"strings"
	"unicode"
)

// dangerousExts are the file name extensions (lower case, without the dot)
// that are refused as uploads whatever the content: what a double click on a
// downloaded file would run, install, or turn into a change of the system.
// Sources, both maintained by the vendors whose systems the class uses:
//
//   - Chromium's download file type policies
//     (components/safe_browsing/content/resources/download_file_types.asciipb):
//     every type with a danger level other than NOT_DANGEROUS on Windows,
//     macOS, Linux, ChromeOS or Android;
//   - Microsoft's "Blocked attachments in Outlook" list (Level 1) and the
//     BlockedFileTypes of Outlook on the web
//     (https://support.microsoft.com/office/434752e1-02d3-4e90-9124-8b81e49a8519).
//
// Not taken from them: xml, xsl and xsd, which Chromium flags only because
// old Internet Explorer ran them; they are course data, and the server serves
// them as downloads with nosniff anyway. Added to them: the Windows app
// package installers (appx, msix and their bundles, appinstaller), which
// neither list names.
var dangerousExts = extensionSet(`
		accda accdb accde accdr action ad ade adp app appcontent-ms appinstaller
		application appref-ms appx appxbundle apk applescript as asp aspx asx bas
		bash bat caction cdr cdxml cer cfg chi chm class cmd cnt com command
		configprofile cpgz cpi cpl crt crx csh dart dc42 definition deb der
		desktop dex diagcab diskcopy42 dll dmg dmgpart drv dvdr dylib efi eml exe
		fileloc fon fxp gadget grp hlp hpj hta htc htt img imgpart inf ini ins
		internetconnect inx isp isu its jar jnlp job js jse ksh lnk local mad maf
		mag mam manifest maq mar mas mat mau mav maw mcf mda mdb mde mdt mdw mdz
		mht mhtml mmc mobileconfig mof mpkg msc msg msh msh1 msh1xml msh2 msh2xml
		mshxml msi msix msixbundle msp mst ndif networkconnect ocx ops osas osax
		osd out oxt paf partial pax pcd pet pif pkg pl plg prf prg ps1 ps1xml ps2
		ps2xml psc1 psc2 pssc pst pup py pyc pyd pyo pyw pyz pyzw rb reg rels rgs
		rpm run scf scpt scptd scr sct search-ms seplugin service settingcontent-ms
		sh shar shb shs slk slp smi sparsebundle sparseimage spl swf sys tcsh tmp
		toast u3p udif udl url vb vbe vbp vbs vbscript vdx vhd vhdx vsd vsdm
		vsdx vsmacros vss vssm vssx vst vstm vstx vsw vsx vtx webloc webpnp website
		wflow workflow ws wsb wsc wsf wsh xbap xip xll xnk xrm-ms`)

func extensionSet(list string) map[string]bool {
	set := map[string]bool{}
	for _, e := range strings.Fields(list) {
		set[e] = true
	}
	return set
}

// DangerousExt returns the extension (with its dot, lower case) that makes
// name a program by the dangerousExts list, or "". It looks at the last
// extension, as Windows, macOS and Linux desktops do ("notes.pdf.exe" is an
// .exe), after dropping what those systems ignore or what hides the real end
// of a name: trailing dots and spaces (Windows strips them), other white
// space, and invisible format characters. Case does not matter.
func DangerousExt(name string) string {
	name = strings.TrimRightFunc(name, func(r rune) bool {
		return r == '.' || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r)
	})
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	ext := strings.ToLower(name[i+1:])
	if dangerousExts[ext] {
		return "." + ext
	}
	return ""
}
